"""The dataset sheet (``config/datasets.tsv``): which input files, read how, labelled how.

A tab-separated table, one dataset per row; lines starting with ``#`` are comments and
blank lines are skipped; the first other line is the header. Columns:

    name     unique name of the dataset, [A-Za-z0-9_-]+ (provenance, messages)
    paths    one or more paths or glob patterns, separated by ``;`` (relative to the
             directory snakemake runs in); a glob is expanded, sorted, and must match
    mapping  a mapping name (genhep, delphes, nanoaod, nanoaod_ak4, lhco_flat, lhco_rnd)
             or the path of a YAML file holding a mapping (genhep.io.mappings)
    label    empty: no label; 0 or 1: the label of every event of these files (signal.root
             → 1, qcd_*.root → 0); otherwise the name of the label branch (column)
    weight   optional. Empty: none; a number: the weight of every event (e.g. σ/N); or the
             name of a per-event weight branch (column)
    tree     optional: the TTree to read (the HDF5 key for lhco_rnd) instead of the mapping's

The sheet's label and weight replace the mapping's own. Every row is checked against
``workflow/schemas/datasets.schema.yaml`` and then for what a schema cannot see (unique
names, files that exist, globs that match, a file in two datasets); a problem is one
GenhepError naming the sheet, the row (and its line) and the column.

This module imports only the standard library, PyYAML and jsonschema (no torch, no
uproot), so that a Snakefile can read the sheet at parse time.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from genhep.errors import GenhepError
from genhep.io.mappings import PRESETS, resolve_mapping

COLUMNS = ("name", "paths", "mapping", "label", "weight", "tree")
REQUIRED_COLUMNS = ("name", "paths", "mapping")
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "datasets.schema.yaml"
NAME = re.compile(r"[A-Za-z0-9_-]+")
# A branch (or column) name: a Delphes-style 'FatJet.Tau[5]' included, a number not.
BRANCH = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*")
MAPPING_FILE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Dataset:
    """One row of the sheet, its globs expanded.

    ``label``: 0 or 1 (every event), a branch name, or None; ``weight``: a number (every
    event), a branch name, or None. ``mapping`` is as written in the sheet (a name or a
    YAML file); ``mapping_spec`` what it means (the name, or the file's mapping), so that
    a change to the YAML file changes :meth:`as_dict` (and reruns the rule that takes it
    as a param).
    """

    name: str
    paths: tuple[str, ...]
    mapping: str
    mapping_spec: str | dict[str, Any]
    label: int | str | None = None
    weight: float | str | None = None
    tree: str | None = None

    @property
    def has_labels(self) -> bool:
        """Whether the events get a label, constant or from a branch."""
        return self.label is not None

    @property
    def label_constant(self) -> int | None:
        return self.label if isinstance(self.label, int) else None

    @property
    def label_branch(self) -> str | None:
        return self.label if isinstance(self.label, str) else None

    @property
    def weight_constant(self) -> float | None:
        return None if self.weight is None or isinstance(self.weight, str) else self.weight

    @property
    def weight_branch(self) -> str | None:
        return self.weight if isinstance(self.weight, str) else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reads it back (the ingest stage's
        ``datasets``, genhep.settings.data.IngestSettings)."""
        return {
            "name": self.name,
            "paths": list(self.paths),
            "mapping": self.mapping,
            "mapping_spec": self.mapping_spec,
            "label": self.label,
            "weight": self.weight,
            "tree": self.tree,
        }

    @classmethod
    def from_dict(cls, row: Any, where: str = "datasets") -> Dataset:
        """A dataset from :meth:`as_dict`'s form; a bad value is a GenhepError naming it."""
        if not isinstance(row, dict):
            raise GenhepError(f"{where}: each dataset must be an object, not {row!r}")
        name = row.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise GenhepError(f"{where}: dataset name {name!r}: expected [A-Za-z0-9_-]+")
        where = f"{where}: dataset {name!r}"
        unknown = sorted(set(row) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise GenhepError(f"{where}: unknown key(s) {unknown}")
        paths = row.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if not paths or not all(isinstance(p, str) and p for p in paths):
            raise GenhepError(f"{where}: 'paths' must be a non-empty list of file paths")
        mapping = row.get("mapping")
        spec = row.get("mapping_spec")
        if spec is None:
            if not isinstance(mapping, str) or not mapping:
                raise GenhepError(f"{where}: 'mapping' must be a mapping name or a YAML file")
            spec = _mapping_spec(mapping)
        elif not isinstance(spec, str | dict):
            raise GenhepError(f"{where}: 'mapping_spec' must be a name or an object")
        label, weight = row.get("label"), row.get("weight")
        if not (label is None or label in (0, 1) and not isinstance(label, bool)):
            if not (isinstance(label, str) and BRANCH.fullmatch(label)):
                raise GenhepError(f"{where}: 'label' must be 0, 1, a branch name or null")
        if isinstance(weight, bool) or not (
            weight is None
            or isinstance(weight, str)
            and BRANCH.fullmatch(weight)
            or isinstance(weight, int | float)
            and math.isfinite(weight)
            and weight > 0
        ):
            raise GenhepError(f"{where}: 'weight' must be a positive number, a branch or null")
        tree = row.get("tree")
        if tree is not None and not isinstance(tree, str):
            raise GenhepError(f"{where}: 'tree' must be a name or null")
        return cls(
            name,
            tuple(paths),
            mapping if isinstance(mapping, str) else str(spec),
            spec,
            None if label is None else label if isinstance(label, str) else int(label),
            None if weight is None else weight if isinstance(weight, str) else float(weight),
            tree or None,
        )

    def branch_mapping(self):
        """The :class:`genhep.io.mappings.BranchMapping` that reads this dataset's files:
        its mapping, with the sheet's tree, and the sheet's label and weight branches (a
        constant label or weight is added by ingestion, not read)."""
        try:
            mapping = resolve_mapping(self.mapping_spec, tree=self.tree)
        except GenhepError as err:
            raise GenhepError(f"dataset {self.name!r}, mapping {self.mapping!r}: {err}") from err
        return dataclasses.replace(mapping, label=self.label_branch, weight=self.weight_branch)


def dataset_paths(datasets: list[Dataset]) -> list[str]:
    """Every input file of the sheet, in order (a rule's input)."""
    return [p for d in datasets for p in d.paths]


def _mapping_spec(value: str) -> str | dict[str, Any]:
    """A mapping name as it is; a YAML file's mapping (a mapping object, or a config
    snippet ``files: {mapping: ...}`` as genhep-inspect prints it)."""
    if not (value.endswith(MAPPING_FILE_SUFFIXES) or "/" in value or os.sep in value):
        if value not in PRESETS:
            raise GenhepError(
                f"{value!r} is neither a mapping name ({', '.join(PRESETS)}) nor a YAML file "
                f"(a path ending in .yaml or .yml)"
            )
        return value
    path = Path(value)
    if not path.is_file():
        raise GenhepError(f"mapping file {value!r} does not exist")
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise GenhepError(f"mapping file {value!r} is not readable YAML ({err})") from err
    if isinstance(spec, dict) and isinstance(spec.get("files"), dict):
        spec = spec["files"].get("mapping")
    elif isinstance(spec, dict) and set(spec) == {"mapping"}:
        spec = spec["mapping"]
    if not isinstance(spec, str | dict) or not spec:
        raise GenhepError(f"mapping file {value!r} holds no mapping (a name or an object)")
    return spec


def _parse_label(value: str) -> int | str | None:
    if value == "":
        return None
    if value in ("0", "1"):
        return int(value)
    if BRANCH.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is neither 0 or 1 (the label of every event of these files) nor the "
        "name of a label branch"
    )


def _parse_weight(value: str) -> float | str | None:
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        if BRANCH.fullmatch(value):
            return value
        raise ValueError(
            f"{value!r} is neither a number (the weight of every event) nor the name of a "
            "weight branch"
        ) from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{value!r}: a constant weight must be a positive, finite number")
    return number


def _expand(value: str, check_files: bool) -> list[str]:
    """The files of a ``paths`` cell: ';'-separated paths and globs, globs sorted."""
    items = [p.strip() for p in value.split(";")]
    items = [os.path.expanduser(p) for p in items if p]
    if not items:
        raise ValueError("no path given")
    files: list[str] = []
    for item in items:
        if glob.has_magic(item):
            matches = sorted(m for m in glob.glob(item, recursive=True) if os.path.isfile(m))
            if not matches:
                raise ValueError(f"{item!r} matches no file")
            files += matches
        elif check_files and not os.path.exists(item):
            raise ValueError(f"{item!r} does not exist")
        elif check_files and not os.path.isfile(item):
            raise ValueError(f"{item!r} is not a file")
        else:
            files.append(item)
    return list(dict.fromkeys(files))  # a file matched twice in one row is read once


def _load_schema(schema: str | os.PathLike | None):
    path = Path(schema) if schema is not None else SCHEMA
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as err:
        raise GenhepError(f"{path}: cannot read the dataset sheet's schema ({err})") from err
    return jsonschema.validators.validator_for(loaded)(loaded)


def _schema_error(validator, row: dict[str, str]) -> tuple[str | None, str] | None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(row))
    if error is None:
        return None
    column = str(error.path[0]) if error.path else None
    if column is None and error.validator == "required":
        column = next((c for c in error.validator_value if c not in row), None)
    return column, error.message


def load_datasets(
    path: str | os.PathLike,
    check_files: bool = True,
    schema: str | os.PathLike | None = None,
) -> list[Dataset]:
    """Read and validate a dataset sheet; globs expanded (sorted), rows in sheet order.

    ``check_files=False`` keeps a plain path that does not exist yet (a file another rule
    of the workflow writes, such as the toy source's ``results/data/toy.root``); a glob
    must match either way. Paths are taken relative to the working directory.
    """
    sheet = Path(path)
    try:
        text = sheet.read_text()
    except FileNotFoundError:
        raise GenhepError(f"{sheet}: the dataset sheet does not exist") from None
    except OSError as err:
        raise GenhepError(f"{sheet}: cannot read the dataset sheet ({err})") from err
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise GenhepError(f"{sheet}: no header line (columns: {', '.join(COLUMNS)})")
    (header_line, _), *rows = lines
    records = list(csv.reader([line for _, line in lines], delimiter="\t"))
    header = [h.strip() for h in records[0]]

    def fail(where: str, column: str | None, message: str):
        at = f", column {column!r}" if column else ""
        raise GenhepError(f"{sheet}, {where}{at}: {message}")

    where = f"header (line {header_line})"
    for h in header:
        if h not in COLUMNS:
            hint = " (columns are separated by tabs, not spaces)" if " " in h else ""
            fail(where, h, f"unknown column{hint}; the columns are {', '.join(COLUMNS)}")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        fail(where, duplicated[0], "column given twice")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        fail(where, missing[0], f"missing column(s) {missing} (columns: {', '.join(COLUMNS)})")
    if not rows:
        fail(where, None, "no datasets: the sheet has a header but no rows")

    validator = _load_schema(schema)
    datasets: list[Dataset] = []
    seen_names: dict[str, str] = {}
    owner: dict[str, tuple[str, str]] = {}  # file → (dataset, where)
    for index, ((line_number, _), cells) in enumerate(zip(rows, records[1:], strict=True), start=1):
        where = f"row {index} (line {line_number})"
        if len(cells) > len(header):
            fail(
                where,
                None,
                f"{len(cells)} tab-separated cells but the header has {len(header)} columns",
            )
        padded = [c.strip() for c in cells] + [""] * (len(header) - len(cells))
        row = dict(zip(header, padded, strict=True))
        for column in REQUIRED_COLUMNS:
            if not row[column]:
                fail(where, column, "empty; every dataset needs a name, paths and a mapping")
        name = row["name"]
        if not NAME.fullmatch(name):
            fail(where, "name", f"{name!r}: a name is made of A-Z a-z 0-9 _ - only")
        if name in seen_names:
            fail(where, "name", f"{name!r} is already the name of {seen_names[name]}")
        seen_names[name] = where
        values: dict[str, Any] = {}
        for column, parse in (("label", _parse_label), ("weight", _parse_weight)):
            try:
                values[column] = parse(row.get(column, ""))
            except ValueError as err:
                fail(where, column, str(err))
        tree = row.get("tree", "")
        problem = _schema_error(validator, {k: v for k, v in row.items() if v != ""})
        if problem:
            fail(where, problem[0], problem[1])
        try:
            spec = _mapping_spec(row["mapping"])
            candidate = Dataset(name, (), row["mapping"], spec, tree=tree or None, **values)
            candidate.branch_mapping()  # the mapping resolves (names a bad key)
        except GenhepError as err:
            fail(where, "mapping", str(err))
        try:
            files = _expand(row["paths"], check_files)
        except ValueError as err:
            fail(where, "paths", str(err))
        for file in files:
            key = os.path.normpath(os.path.abspath(file))
            if key in owner:
                other, other_where = owner[key]
                fail(
                    where,
                    "paths",
                    f"{file!r} is already in dataset {other!r}, {other_where}; a file "
                    "belongs to one dataset",
                )
            owner[key] = (name, where)
        datasets.append(dataclasses.replace(candidate, paths=tuple(files)))
    return datasets
