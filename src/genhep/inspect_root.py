"""genhep-inspect: what is in a ROOT file, and which branch mapping would read it.

    genhep-inspect FILE [--tree NAME]

Lists every TTree with its entries, then each branch of the chosen tree (the one named,
or the largest) with its type, and suggests a ``files.mapping`` for the config, the first
that applies of:

- a preset, when the branches follow one (genhep, delphes, nanoaod, nanoaod_ak4, lhco_flat);
- a jets mapping, for a jagged jet collection: jagged branches (one number per jet) with a
  common prefix whose name holds "jet", ending in ``_`` or ``.``, then the four-momentum
  as pt, eta, phi, mass (or m) or as px, py, pz, e (or energy), and optionally tau1, tau2,
  tau3, matched case-insensitively: ``Jet_Px``, ``jet_pt``, ``FatJet_tau1``, ``FatJet.PT``;
- a flat mapping of the flat branches (one number per event; boolean flags left out).

The others that apply follow, commented out, as alternatives. A flat branch named
``label`` becomes the mapping's label. Jagged branches never go into a flat mapping:
ingestion reads one number per event from each column.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

import uproot
import yaml
from uproot.interpretation.jagged import AsJagged
from uproot.interpretation.numerical import AsDtype

from genhep.errors import GenhepError
from genhep.io.mappings import JET_CARTESIAN, JET_KINEMATICS, JET_TAUS, resolve_mapping
from genhep.io.root import branch_names, open_tree

# Presets in the order they are tried: the most specific first.
PRESET_ORDER = ("genhep", "delphes", "nanoaod", "nanoaod_ak4", "lhco_flat")

# Branch-name endings (lower case) for each jet key, the preferred spelling first.
JET_ALIASES = {
    "pt": ("pt",),
    "eta": ("eta",),
    "phi": ("phi",),
    "mass": ("mass", "m"),
    "px": ("px",),
    "py": ("py",),
    "pz": ("pz",),
    "energy": ("e", "energy"),
    "tau1": ("tau1",),
    "tau2": ("tau2",),
    "tau3": ("tau3",),
}
SEPARATORS = ("_", ".")

FLAT, JAGGED = "flat", "jagged"


def branch_layout(branch) -> str | None:
    """``"flat"`` for one number per event, ``"jagged"`` for one number per object (jet),
    ``"flag"`` for a boolean per event, None for anything else (strings, fixed-size arrays,
    objects)."""
    try:
        interp = branch.interpretation
    except Exception:
        return None
    if isinstance(interp, AsDtype) and interp.to_dtype.shape == ():
        return "flag" if interp.to_dtype.kind == "b" else FLAT
    if (
        isinstance(interp, AsJagged)
        and isinstance(interp.content, AsDtype)
        and interp.content.to_dtype.shape == ()
        and interp.content.to_dtype.kind in "iuf"
    ):
        return JAGGED
    return None


def jet_collections(jagged: list[str]) -> list[dict[str, str]]:
    """The complete jet collections among jagged branch names, as ``jets`` mappings
    ({key: branch}), best first: with τ branches, then large-radius ("fat") ones."""
    groups: dict[str, dict[str, tuple[int, str]]] = {}
    for name in jagged:
        lower = name.lower()
        for key, aliases in JET_ALIASES.items():
            for rank, alias in enumerate(aliases):
                prefix = name[: len(name) - len(alias)]
                if lower.endswith(alias) and prefix[-1:] in SEPARATORS and "jet" in prefix.lower():
                    found = groups.setdefault(prefix, {})
                    if key not in found or rank < found[key][0]:
                        found[key] = (rank, name)
    collections = []
    for prefix, found in groups.items():
        for four_momentum in (JET_KINEMATICS, JET_CARTESIAN):  # (pt, eta, ...) needs no conversion
            if all(k in found for k in four_momentum):
                keys = four_momentum + (JET_TAUS if all(k in found for k in JET_TAUS) else ())
                collections.append((prefix, {k: found[k][1] for k in keys}))
                break
    collections.sort(key=lambda c: ("tau1" not in c[1], "fat" not in c[0].lower(), c[0]))
    return [jets for _, jets in collections]


def suggest_mappings(layouts: Mapping[str, str | None], tree: str) -> list[dict]:
    """Every mapping that would read this tree, best first (see the module docstring).

    ``layouts`` maps each branch name to its :func:`branch_layout`."""
    names = set(layouts)
    suggestions = []
    preset_branches: set[str] = set()
    for preset in PRESET_ORDER:
        mapping = resolve_mapping(preset)
        if all(b in names for b in mapping.branches if b != mapping.label):
            spec = {"preset": preset}
            if mapping.tree != tree:
                spec["tree"] = tree
            if mapping.label and mapping.label not in names:
                spec["label"] = None
            suggestions.append(spec)
            preset_branches = set(mapping.branches)
            break
    flat = sorted(n for n, layout in layouts.items() if layout == FLAT)
    labels = [
        n for n, layout in layouts.items() if layout in (FLAT, "flag") and n.lower() == "label"
    ]
    label = labels[0] if labels else None
    jagged = sorted(n for n, layout in layouts.items() if layout == JAGGED)
    for jets in jet_collections(jagged):
        if set(jets.values()) <= preset_branches:
            continue  # what the preset reads already
        suggestions.append(
            {"kind": "jets", "tree": tree, "energy_unit": "GeV", "jets": jets, "label": label}
        )
    # One column per flat branch; the user keeps the ones to model and sets unit: GeV (or
    # MeV, TeV) on energies, which genhep stores in TeV.
    columns = {n: {"branch": n, "unit": ""} for n in flat if n != label}
    if columns:
        suggestions.append({"kind": "flat", "tree": tree, "columns": columns, "label": label})
    return suggestions


def suggest_mapping(layouts: Mapping[str, str | None], tree: str) -> dict | None:
    """The best of :func:`suggest_mappings`, or None when nothing in the tree can be read."""
    suggestions = suggest_mappings(layouts, tree)
    return suggestions[0] if suggestions else None


def _commented(mapping: dict) -> str:
    """A mapping as YAML lines under ``files:``, commented out."""
    text = yaml.safe_dump({"mapping": mapping}, sort_keys=False, default_flow_style=None)
    return "\n".join(f"#   {line}" for line in text.splitlines())


def describe(path, tree_name: str | None = None) -> str:
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
    suggestions = suggest_mappings({n: branch_layout(tree[n]) for n in names}, tree_name)
    lines.append("")
    if not suggestions:
        lines.append(
            "No files.mapping to suggest: no preset fits, no jagged jet collection and no"
            " numeric one-per-event branch was found; see src/genhep/io/mappings.py."
        )
        return "\n".join(lines)
    lines += [
        "Suggested config (files.mapping: keep the columns to model, set unit: GeV on energies,"
        " check energy_unit, name the label branch if there is one):",
        yaml.safe_dump(
            {"files": {"paths": [str(path)], "mapping": suggestions[0]}},
            sort_keys=False,
            default_flow_style=None,
        ),
    ]
    if len(suggestions) > 1:
        lines.append("# Alternatives: uncomment one in place of the mapping above.")
        lines += [_commented(m) for m in suggestions[1:]]
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
