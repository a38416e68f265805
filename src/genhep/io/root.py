"""Open ROOT files and read mapped branches in chunks, with errors that name the culprit.

Before anything is read, every mapped branch's type (its uproot interpretation) is checked
against what the mapping needs (:func:`check_branch_types`), so a wrong branch ends in one
line that says what the branch is and what the mapping expects:

- ``kind: jets`` fields need one number per jet: a jagged numeric branch (``float[]``,
  ``std::vector<float>``, NanoAOD's ``FatJet_pt``); with ``{branch, index}``, a jagged
  branch of fixed-size arrays (Delphes' ``FatJet.Tau[5]``), ``index`` within the size;
- ``kind: flat`` columns need one number per event; with ``{branch, index}``, a fixed-size
  array per event (``double[2]``), ``index`` within the size;
- ``label`` needs one number per event; a bool branch is accepted there (true = signal = 1),
  as genhep-inspect suggests for a boolean ``label`` flag;
- ``weight`` needs one number per event.

Bool branches are refused everywhere else (a true/false flag is no continuous feature and
would be modelled as 0/1 without anyone deciding so): store the flag as a number in the
file (e.g. ROOT's ``RDataFrame.Define("x_f", "float(x)")`` and ``Snapshot``), or leave it
out of the mapping. Strings and other objects are refused.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from uproot.interpretation.jagged import AsJagged
from uproot.interpretation.numerical import AsSTLBits, Numerical
from uproot.interpretation.strings import AsStrings

from genhep.errors import GenhepError
from genhep.io.mappings import BranchMapping


def open_tree(path: str | os.PathLike, tree_name: str):
    """The TTree ``tree_name`` of ``path``, or a GenhepError naming what is wrong."""
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: input file does not exist")
    if path.is_dir():
        raise GenhepError(f"{path}: is a directory, not a ROOT file")
    _check_root_signature(path)
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


def _check_root_signature(path: Path) -> None:
    """An empty file, or one that does not start with ROOT's signature ``root``, is named as
    such (uproot would call a short text file a truncated ROOT file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as err:
        raise GenhepError(f"{path}: cannot read ({err.strerror or err})") from err
    if not head:
        raise GenhepError(f"{path}: empty file")
    if head[:4] == b"root":
        return
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        what = (
            "it is an HDF5 file; an LHC Olympics features file is read with files.mapping: lhco_rnd"
        )
    elif head[:2] == b"\x1f\x8b":
        what = "it is gzip-compressed"
    else:
        try:
            text = head[:24].decode("utf-8")
        except UnicodeDecodeError as err:  # binary, or a character cut at byte 24
            text = head[: err.start].decode("utf-8") if err.start >= 4 else ""
        if text.strip() and all(c.isprintable() or c in "\t\r\n" for c in text):
            what = f"it starts with the text {text.strip().splitlines()[0]!r}"
        else:
            what = f"its first bytes are {head[:4]!r}"
        what += ", not ROOT's signature 'root'"
    raise GenhepError(f"{path}: not a ROOT file ({what})")


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


# Branch layouts, by what one event holds.
NUMBER = "number"  # one number (or bool) per event
FIXED = "fixed"  # a fixed-size array of numbers per event, e.g. double[2]
JAGGED = "jagged"  # a variable number of numbers per event, e.g. float[] (one per jet)
JAGGED_FIXED = "jagged_fixed"  # a fixed-size array per object, e.g. Delphes' Tau[5]
STRING = "string"
OTHER = "other"  # objects, nested vectors, bitsets, ...


@dataclass(frozen=True)
class BranchType:
    """What one event of a branch holds, from its uproot interpretation."""

    layout: str
    typename: str  # ROOT's name for the type, e.g. double[2]
    dtype: np.dtype | None = None  # of the numbers (numeric layouts)
    size: int | None = None  # of the fixed-size arrays (FIXED, JAGGED_FIXED)

    @property
    def is_bool(self) -> bool:
        return self.dtype is not None and self.dtype.kind == "b"

    def describe(self) -> str:
        """``is jagged (var * float64)`` and the like, for an error message."""
        name = self.dtype.name if self.dtype is not None else ""
        if self.layout == NUMBER:
            text = "is bool (true/false)" if self.is_bool else f"is one {name} per event"
        elif self.layout == FIXED:
            text = f"is a fixed-size array ({self.size} * {name}, ROOT type {self.typename})"
        elif self.layout == JAGGED:
            text = f"is jagged (var * {name})"
        elif self.layout == JAGGED_FIXED:
            text = f"is jagged with a fixed-size array per object (var * {self.size} * {name})"
        elif self.layout == STRING:
            text = f"holds strings ({self.typename})"
        else:
            text = f"holds objects of type {self.typename}, not numbers"
        return text


def branch_type(branch) -> BranchType:
    """The :class:`BranchType` of an uproot TBranch."""
    try:
        typename = str(branch.typename)
    except Exception:
        typename = "unknown type"
    try:
        interp = branch.interpretation
    except Exception:
        return BranchType(OTHER, typename)
    jagged = isinstance(interp, AsJagged)
    inner = interp.content if jagged else interp
    if isinstance(inner, AsStrings):
        return BranchType(STRING, typename)
    if not isinstance(inner, Numerical) or isinstance(inner, AsSTLBits):
        return BranchType(OTHER, typename)
    try:
        to_dtype = np.dtype(inner.to_dtype)
    except Exception:
        return BranchType(OTHER, typename)
    base, shape = to_dtype.base, to_dtype.shape
    if base.kind not in "biuf" or len(shape) > 1:
        return BranchType(OTHER, typename)
    size = int(shape[0]) if shape else None
    if jagged:
        return BranchType(JAGGED_FIXED if shape else JAGGED, typename, base, size)
    return BranchType(FIXED if shape else NUMBER, typename, base, size)


_CAST_BOOL = (
    "genhep does not read true/false as a number; store it as a number in the file "
    '(e.g. ROOT: RDataFrame.Define("{b}_f", "float({b})") and Snapshot) and map that, '
    "or leave the branch out of the mapping"
)


def _field_problem(kind: str, where: str, field, found: BranchType) -> str | None:
    """What is wrong with ``found`` for a mapping field (None: nothing)."""
    branch, index = field.branch, field.index
    per = "per jet" if kind == "jets" else "per event"
    want_plain, want_array = (JAGGED, JAGGED_FIXED) if kind == "jets" else (NUMBER, FIXED)
    if found.layout in (STRING, OTHER):
        return f"{where} needs numbers; leave this branch out of the mapping"
    if found.is_bool:
        return f"{where} needs a number {per}: " + _CAST_BOOL.format(b=branch)
    if kind == "flat" and found.layout in (JAGGED, JAGGED_FIXED):
        return (
            f"kind: flat needs one number per event ({where}); "
            "use a jets mapping (kind: jets) for per-jet branches"
        )
    if kind == "jets" and found.layout in (NUMBER, FIXED):
        return (
            f"kind: jets needs one number per jet, a jagged branch such as float[] ({where}); "
            "use kind: flat for per-event columns"
        )
    if index is None:
        if found.layout == want_array:
            return (
                f"{where} needs one number {per}; pick one element with "
                f"{{branch: {branch!r}, index: i}}, i from 0 to {found.size - 1}"
            )
        return None
    if found.layout == want_plain:
        return (
            f"{where}.index is {index}, and an index picks an element of a fixed-size "
            f"array: for one number {per} give the branch name alone"
        )
    if not 0 <= index < found.size:
        return (
            f"{where}.index is {index}; it holds {found.size} values {per}: "
            f"use an index from 0 to {found.size - 1}"
        )
    return None


def check_branch_types(path: str | os.PathLike, mapping: BranchMapping, branches) -> None:
    """Every mapped branch holds what the mapping needs (see the module docstring), or a
    GenhepError in one line names the branch, what it is and what the mapping needs.

    ``branches``: {branch name: uproot TBranch} of the mapped branches."""
    types = {name: branch_type(b) for name, b in branches.items()}
    section = "jets" if mapping.kind == "jets" else "columns"
    for key, field in mapping.fields.items():
        found = types[field.branch]
        problem = _field_problem(mapping.kind, f"files.mapping.{section}.{key}", field, found)
        if problem:
            raise GenhepError(f"{path}: branch {field.branch!r} {found.describe()} but {problem}")
    for role, name in (("label", mapping.label), ("weight", mapping.weight)):
        if not name:
            continue
        found = types[name]
        if found.layout == NUMBER and (role == "label" or not found.is_bool):
            continue
        if found.is_bool and found.layout == NUMBER:  # a bool weight
            need = "a number per event: " + _CAST_BOOL.format(b=name)
        elif role == "label":
            need = "one number per event (1 signal, 0 background) or a bool (true = signal)"
        else:
            need = "one number per event"
        raise GenhepError(
            f"{path}: branch {name!r} {found.describe()} but files.mapping.{role} needs {need}"
        )


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
    check_branch_types(path, mapping, branches)
    yield from iterate_branches(path, tree, branches, mapping.tree, chunk_size)


def iterate_branches(
    path: str | os.PathLike, tree: Any, branches: dict[str, Any], tree_name: str, chunk_size: int
) -> Iterator[tuple[dict[str, ak.Array], int]]:
    """Yield ``({name: array}, entries)`` chunks of ``branches`` ({name: uproot branch} of
    ``tree``); a file that fails mid-read (truncated, corrupt) is one GenhepError naming it."""
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
                f"{path}: failed reading TTree {tree_name!r}, truncated or corrupt? ({err})"
            ) from err
        out = {by_id[id(tree[key])]: value for key, value in arrays.items()}
        yield out, len(next(iter(out.values())))
