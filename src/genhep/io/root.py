"""Open ROOT files and read mapped branches in chunks, with errors that name the culprit."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import uproot

from genhep.errors import GenhepError
from genhep.io.mappings import BranchMapping


def open_tree(path: str | os.PathLike, tree_name: str):
    """The TTree ``tree_name`` of ``path``, or a GenhepError naming what is wrong."""
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: input file does not exist")
    if path.is_dir():
        raise GenhepError(f"{path}: is a directory, not a ROOT file")
    try:
        rootfile = uproot.open(path)
    except ValueError as err:
        if "not a ROOT file" in str(err):
            raise GenhepError(f"{path}: not a ROOT file") from err
        raise GenhepError(f"{path}: cannot open as a ROOT file ({err})") from err
    except Exception as err:  # uproot reports truncation as OSError, DeserializationError, ...
        raise GenhepError(f"{path}: cannot read ROOT file, truncated or corrupt? ({err})") from err
    try:
        classes = rootfile.classnames(cycle=False)
    except Exception as err:
        raise GenhepError(
            f"{path}: cannot read ROOT file directory, truncated or corrupt? ({err})"
        ) from err
    if tree_name not in classes:
        trees = sorted(k for k, c in classes.items() if c == "TTree")
        raise GenhepError(
            f"{path}: no TTree named {tree_name!r} (TTrees in this file: {trees or 'none'})"
        )
    if classes[tree_name] != "TTree":
        raise GenhepError(f"{path}: {tree_name!r} is a {classes[tree_name]}, not a TTree")
    try:
        return rootfile[tree_name]
    except Exception as err:
        raise GenhepError(
            f"{path}: cannot read TTree {tree_name!r}, truncated or corrupt? ({err})"
        ) from err


def branch_names(tree) -> list[str]:
    """Every branch of a TTree, sub-branches included (Delphes' 'FatJet.PT' lives in 'FatJet')."""
    return [k for k in tree.keys(recursive=True, full_paths=False) if "/" not in k]


def branch_hint(tree, wanted: str, limit: int = 40) -> str:
    """The branches that exist, closest to ``wanted`` first, for an error message."""
    names = branch_names(tree)
    close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.5)
    listed = close + [n for n in names if n not in close]
    text = "Branches in this TTree: " + ", ".join(listed[:limit])
    if len(listed) > limit:
        text += f", ... ({len(listed) - limit} more; `genhep-inspect FILE` lists them all)"
    return text


def iterate_mapped(
    path: str | os.PathLike, mapping: BranchMapping, chunk_size: int
) -> Iterator[tuple[dict[str, ak.Array], int]]:
    """Yield ``({branch name: array}, entries)`` chunks of the mapped branches of one file."""
    tree = open_tree(path, mapping.tree)
    branches = {}
    for name in mapping.branches:
        try:
            branches[name] = tree[name]
        except KeyError:
            raise GenhepError(
                f"{path}: TTree {mapping.tree!r} has no branch {name!r} "
                f"(set by the branch mapping; check files.mapping). {branch_hint(tree, name)}"
            ) from None
    # Select branches by object, not by name: names such as 'FatJet.Tau[5]' are not
    # plain identifiers and would be misread as globs or expressions.
    by_id = {id(b): name for name, b in branches.items()}
    chunks = tree.iterate(
        filter_branch=lambda b: id(b) in by_id, step_size=chunk_size, library="ak", how=dict
    )
    while True:
        try:
            arrays = next(chunks)
        except StopIteration:
            return
        except GenhepError:
            raise
        except Exception as err:
            raise GenhepError(
                f"{path}: failed reading TTree {mapping.tree!r}, truncated or corrupt? ({err})"
            ) from err
        out = {by_id[id(tree[key])]: value for key, value in arrays.items()}
        yield out, len(next(iter(out.values())))
