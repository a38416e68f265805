"""Column tables in HDF5: one 1-D dataset per column, units and provenance as attributes.

Files are written chunk by chunk into resizable datasets, so a table of any length is
written with bounded memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep.errors import GenhepError
from genhep.io.atomic import HDF5_OVERHEAD_BYTES, atomic_path, reserve

# Compression keeps the feature tables small; gzip level 1 is ~free next to ROOT decoding.
_DATASET_OPTIONS = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


def _attr_value(value: Any) -> Any:
    """h5py stores scalars, strings and arrays; nested structures go in as JSON text."""
    if isinstance(value, dict | list | tuple) and not (
        isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    ):
        return json.dumps(value, sort_keys=True)
    if value is None:
        return "null"
    return value


class TableWriter:
    """Append column chunks to an open HDF5 file (the caller owns the file's atomicity)."""

    def __init__(self, h5file: h5py.File, units: Mapping[str, str], chunk_rows: int = 65536):
        self.file = h5file
        self.units = dict(units)
        self.chunk_rows = chunk_rows
        self.rows = 0

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"columns of unequal length: {lengths}")
        n = lengths.pop()
        # Uncompressed size: an upper bound of what gzip writes (HDF5 must not hit ENOSPC).
        raw = sum(np.asarray(v).nbytes for v in columns.values())
        reserve(self.file.filename, raw + (len(columns) + 1) * HDF5_OVERHEAD_BYTES)
        for name, values in columns.items():
            values = np.asarray(values)
            if name not in self.file:
                ds = self.file.create_dataset(
                    name,
                    shape=(0,) + values.shape[1:],
                    maxshape=(None,) + values.shape[1:],
                    dtype=values.dtype,
                    chunks=(self.chunk_rows,) + values.shape[1:],
                    **_DATASET_OPTIONS,
                )
                ds.attrs["unit"] = self.units.get(name, "")
            ds = self.file[name]
            ds.resize(self.rows + n, axis=0)
            ds[self.rows :] = values
        self.rows += n


def write_attrs(obj: h5py.HLObject, attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        obj.attrs[key] = _attr_value(value)


def damaged(path: str | os.PathLike, reason: str, written_by: str | None = None) -> GenhepError:
    """The error for an input file that exists but cannot be used: what is wrong, and how
    to make it again (a rerun alone would reuse it, as Snakemake takes it for finished)."""
    how = (
        f"delete it or rerun with -R {written_by}"
        if written_by
        else "delete it and rerun the rule that writes it"
    )
    return GenhepError(f"{path} is damaged ({reason}): {how}")


def read_table(
    path: str | os.PathLike,
    columns: list[str] | None = None,
    written_by: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read whole columns and the file attributes (JSON text decoded back).

    The table is validated as it is read: an unreadable (e.g. truncated) file, columns of
    unequal length, or a NaN or infinite value in a numeric column is a GenhepError that
    calls the file damaged and says how to regenerate it; ``written_by`` names the rule
    that writes it, for that message (genhep's tables never hold a non-finite value:
    ingestion drops such events).
    """
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: file does not exist")
    if path.stat().st_size == 0:
        raise damaged(path, "empty file", written_by)
    try:
        with h5py.File(path, "r") as f:
            names = list(columns) if columns is not None else list(f.attrs.get("columns", f))
            missing = [c for c in names if c not in f]
            if missing:
                raise GenhepError(
                    f"{path}: no column(s) {missing} in the table (has: {sorted(f.keys())})"
                )
            data = {c: f[c][...] for c in names}
            attrs = {k: decode_attr(v) for k, v in f.attrs.items()}
    except GenhepError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise damaged(path, f"not a readable HDF5 file: {reason}", written_by) from err
    check_columns(path, data, written_by)
    return data, attrs


def check_columns(
    path: str | os.PathLike, data: Mapping[str, np.ndarray], written_by: str | None = None
) -> None:
    """Columns of one length, every numeric value finite; else the file is damaged."""
    lengths = {name: len(values) for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        raise damaged(path, f"columns of unequal length {lengths}", written_by)
    for name, values in data.items():
        if values.dtype.kind in "fc":
            bad = int(np.count_nonzero(~np.isfinite(values)))
            if bad:
                raise damaged(
                    path,
                    f"column {name!r} holds {bad} NaN or infinite value(s) of {len(values)}",
                    written_by,
                )


def decode_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and (value[:1] in ("[", "{") or value == "null"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_table(
    path: str | os.PathLike,
    columns: Mapping[str, np.ndarray],
    units: Mapping[str, str] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write a whole column table at once, atomically (for tables that fit in memory)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        TableWriter(f, units or {}).append(columns)
        write_attrs(f, {"columns": list(columns), **(attrs or {})})


def column_units(features_path: str | os.PathLike, columns: list[str]) -> dict[str, str]:
    """The unit attribute of each column of the feature table."""
    with h5py.File(features_path, "r") as f:
        return {c: decode_attr(f[c].attrs.get("unit", "")) if c in f else "" for c in columns}
