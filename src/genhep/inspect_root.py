"""genhep-inspect: what is in a ROOT file, and which branch mapping would read it.

    genhep-inspect FILE [--tree NAME]

Lists every TTree with its entries, then each branch of the chosen tree (the one named,
or the largest) with its type, and suggests a ``files.mapping`` for the config: a preset
when the branches follow one (genhep, delphes, nanoaod, nanoaod_ak4, lhco_flat), or a
flat mapping to fill in otherwise.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from genhep.errors import GenhepError
from genhep.io.mappings import resolve_mapping
from genhep.io.root import branch_names, open_tree

# Presets in the order they are tried: the most specific first.
PRESET_ORDER = ("genhep", "delphes", "nanoaod", "nanoaod_ak4", "lhco_flat")


def suggest_mapping(names: set[str], tree: str) -> dict:
    """A preset whose branches are all present, or a flat mapping of the numeric branches."""
    for preset in PRESET_ORDER:
        mapping = resolve_mapping(preset)
        if all(b in names for b in mapping.branches if b != mapping.label):
            spec = {"preset": preset}
            if mapping.tree != tree:
                spec["tree"] = tree
            if mapping.label and mapping.label not in names:
                spec["label"] = None
            return spec
    # No preset fits: one column per branch; the user keeps the ones to model and sets
    # unit: GeV (or MeV, TeV) on energies, which genhep stores in TeV.
    return {
        "kind": "flat",
        "tree": tree,
        "columns": {n: {"branch": n, "unit": ""} for n in sorted(names)},
        "label": None,
    }


def describe(path, tree_name: str | None = None) -> str:
    import uproot

    try:
        with uproot.open(path) as f:
            entries = {
                k: f[k].num_entries for k, c in f.classnames(cycle=False).items() if c == "TTree"
            }
    except FileNotFoundError as err:
        raise GenhepError(f"{path}: input file does not exist") from err
    except Exception as err:
        open_tree(path, tree_name or "")  # raises the clear error for a bad file
        raise GenhepError(f"{path}: cannot read ROOT file ({err})") from err
    if not entries:
        raise GenhepError(f"{path}: holds no TTree")
    tree_name = tree_name or max(entries, key=entries.get)
    tree = open_tree(path, tree_name)
    lines = [f"{path}", "", "TTrees:"]
    lines += [f"  {k}: {n:,} entries" for k, n in entries.items()]
    lines += ["", f"Branches of {tree_name!r}:"]
    names = branch_names(tree)
    for name in names:
        lines.append(f"  {name}: {tree[name].typename}")
    lines += [
        "",
        "Suggested config (files.mapping: keep the columns to model, set unit: GeV on energies,"
        " name the label branch if there is one):",
        yaml.safe_dump(
            {"files": {"paths": [str(path)], "mapping": suggest_mapping(set(names), tree_name)}},
            sort_keys=False,
        ),
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="genhep-inspect",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file")
    p.add_argument("--tree", help="the TTree to list (default: the one with most entries)")
    args = p.parse_args(argv)
    try:
        print(describe(args.file, args.tree))
    except GenhepError as err:
        print(f"genhep-inspect: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
