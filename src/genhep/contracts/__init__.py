"""The files that stages exchange: each layout defined once, with its writer and reader.

Every stage writes and reads these files through this module only, so a layout changes
in one place. Both are HDF5 (h5py); attributes hold scalars, strings and string lists,
and nested values as JSON text (genhep.io.hdf5.write_attrs; decoded back on reading).

**Split file** (``results/preprocessed/{train,val,test}.h5``; written by the preprocess
stage and by CATHODE's data stage with :func:`write_split_file`, read with
:func:`load_split`, which validates it). One row per event, in the preprocessed space:

- ``features``: float64 (n, d), the transformed feature columns;
- ``weight``: (n,), the event weight, only where the feature table has one;
- ``context``: float64 (n, 1), the transformed condition (mjj), only where there is one;
- ``label``: int (n,), the truth label, only where the source has one;
- ``row``: int64 (n,), the event's row in the table it was split from;
- attributes: ``feature_names`` (list of str), ``context_name`` (str, "" for none),
  ``transform`` (JSON text of the :class:`~genhep.transforms.Preprocessor` that maps the
  split back to physical units), and the writer's provenance (the preprocess stage:
  ``split``, ``fractions``, ``seed``, ``events``, ``dropped_out_of_range``,
  ``dropped_unphysical``, ``nudged_off_bound``, ``source``, ``source_events_kept``).

**Sample file** (one per sampling shard, ``results/samples/<family>/shard<s>.h5``, and
the family's gathered ``results/samples/<family>.h5``; written with
:func:`write_samples`, read with :func:`open_samples`, or :func:`generated_table` and
:func:`sampling_info`). Generated events in physical units, a column table written chunk
by chunk (bounded memory):

- one float64 (n,) dataset per column, the features then the context, each with a
  ``unit`` attribute (str, "" where the feature table has none); gzip-compressed,
  chunked and resizable (genhep.io.hdf5.TableWriter);
- attributes of a shard: ``columns`` (list of str, the order above), ``model``,
  ``context_pool``, ``family``, ``shard``, ``first_event``, ``events_requested``,
  ``events`` (written, non-finite ones dropped), ``dropped_nonfinite``, ``seed``,
  ``device``, ``epochs_in_ensemble``, ``seconds``, ``events_per_second``;
- attributes of the gathered file: ``family``, ``columns``, ``shards``, ``events``,
  ``dropped_nonfinite``, ``device``, ``sampling_seconds``, ``events_per_second``.

The files of jets as particle clouds (the cloud store and the cloud split) are
:mod:`genhep.contracts.clouds`'s.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep.errors import GenhepError
from genhep.io.atomic import HDF5_OVERHEAD_BYTES, atomic_path, reserve
from genhep.io.hdf5 import TableWriter, check_columns, damaged, decode_attr, write_attrs
from genhep.transforms import SPLITS_RULE, Preprocessor

# --- the split file ----------------------------------------------------------------------


def reference_and_pool(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(reference, pool) row indices of the test split: even and odd positions.

    The split's rows are in the feature table's order; alternating positions cut any
    ordering (files concatenated by process, by run) evenly into both halves.
    """
    idx = np.arange(n)
    return idx[0::2], idx[1::2]


def write_split_file(
    path: str | os.PathLike,
    pre: Preprocessor,
    features: np.ndarray,
    context: np.ndarray | None,
    labels: np.ndarray | None,
    rows: np.ndarray,
    attrs: Mapping[str, Any],
    weights: np.ndarray | None = None,
) -> None:
    """One split in the layout training reads (``load_split``): transformed columns, the
    row of each event in its source table, its weight if the source has one, and the
    Preprocessor that maps it back."""
    arrays = [a for a in (features, weights, context, labels, rows) if a is not None]
    reserve(path, sum(np.asarray(a).nbytes for a in arrays) + HDF5_OVERHEAD_BYTES)
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=features)
        if weights is not None:
            f.create_dataset("weight", data=weights)
        if context is not None:
            f.create_dataset("context", data=context)
        if labels is not None:
            f.create_dataset("label", data=labels)
        f.create_dataset("row", data=rows)
        write_attrs(
            f,
            {
                "feature_names": list(pre.features.names),
                "context_name": pre.context.names[0] if pre.context is not None else "",
                "transform": pre.to_json(),
                **attrs,
            },
        )


def load_split(path: str | os.PathLike) -> dict[str, Any]:
    """A split file as arrays plus its attributes and the Preprocessor that maps it back.

    Validated as it is read: a file that cannot be read (truncated), lacks its datasets
    or transform, holds no events, columns of unequal length or a NaN or infinite value
    is a GenhepError calling it damaged, with how to regenerate it."""
    out = read_split_arrays(path)
    out["preprocessor"] = Preprocessor.from_json(split_transform_text(out), source=Path(path))
    return out


def read_split_arrays(path: str | os.PathLike, written_by: str = SPLITS_RULE) -> dict[str, Any]:
    """A split file's arrays (``features`` (n, ...), ``context``, ``row``, ...) and
    ``attrs``, validated as :func:`load_split` says, without reading its transform back:
    what training needs, whichever kind of data (an event table, particle clouds) the
    split holds. ``written_by``: the rule that writes it, for how to regenerate it."""
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: split file does not exist")
    if path.stat().st_size == 0:
        raise damaged(path, "empty file", written_by)
    try:
        with h5py.File(path, "r") as f:
            out = {k: f[k][...] for k in f}
            attrs = dict(f.attrs)
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise damaged(path, f"not a readable HDF5 file: {reason}", written_by) from err
    missing = [k for k in ("features", "row") if k not in out]
    missing += [f"attribute {a}" for a in ("transform",) if a not in attrs]
    if missing:
        raise damaged(path, f"not a split file: no {', '.join(missing)}", written_by)
    check_columns(path, out, written_by)
    if len(out["features"]) == 0:
        raise damaged(path, "it holds no events", written_by)
    out["attrs"] = attrs
    return out


def split_transform_text(split: Mapping[str, Any]) -> str:
    """The JSON text of a split's saved transform (from :func:`read_split_arrays`)."""
    transform = split["attrs"]["transform"]
    return transform.decode() if isinstance(transform, bytes) else str(transform)


# --- the sample file ---------------------------------------------------------------------


class SampleWriter:
    """A sample file open for writing: append column chunks, then set its attributes."""

    def __init__(self, h5file: h5py.File, units: Mapping[str, str], chunk_rows: int):
        self._file = h5file
        self._table = TableWriter(h5file, units, chunk_rows=chunk_rows)

    @property
    def rows(self) -> int:
        """The events written so far."""
        return self._table.rows

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        self._table.append(columns)

    def write_attrs(self, attrs: Mapping[str, Any]) -> None:
        write_attrs(self._file, attrs)


@contextlib.contextmanager
def write_samples(
    path: str | os.PathLike, units: Mapping[str, str], chunk_rows: int = 65_536
) -> Iterator[SampleWriter]:
    """Write a sample file, atomically: renamed into place when the block ends without
    an error. ``units``: the unit of each column; ``chunk_rows``: the HDF5 chunk size."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        yield SampleWriter(f, units, chunk_rows)


class SampleFile:
    """A sample file open for reading: its attributes, units and column chunks."""

    def __init__(self, h5file: h5py.File):
        self._file = h5file

    @property
    def attrs(self) -> dict[str, Any]:
        """The file attributes, JSON text decoded back."""
        return {k: decode_attr(v) for k, v in self._file.attrs.items()}

    def __contains__(self, column: str) -> bool:
        return column in self._file

    def datasets(self) -> list[str]:
        """The names of every column the file holds, sorted."""
        return sorted(self._file)

    def events(self, column: str) -> int:
        """The events in ``column`` (every column holds as many)."""
        return self._file[column].shape[0]

    def units(self, columns: Iterable[str]) -> dict[str, str]:
        """The ``unit`` attribute of each of ``columns``."""
        return {c: decode_attr(self._file[c].attrs.get("unit", "")) for c in columns}

    def read(
        self, columns: Iterable[str], start: int = 0, stop: int | None = None
    ) -> dict[str, np.ndarray]:
        """Rows ``start`` to ``stop`` of each of ``columns``."""
        return {c: self._file[c][start:stop] for c in columns}


@contextlib.contextmanager
def open_samples(path: str | os.PathLike) -> Iterator[SampleFile]:
    """Open a sample file for reading (closed when the block ends)."""
    with h5py.File(path, "r") as f:
        yield SampleFile(f)


def generated_table(samples_path: str | os.PathLike, columns: list[str], n: int) -> np.ndarray:
    """The first ``n`` generated events (those whose contexts match the pool's)."""
    with open_samples(samples_path) as f:
        missing = [c for c in columns if c not in f]
        if missing:
            raise GenhepError(f"{samples_path}: no column(s) {missing} (has {f.datasets()})")
        available = f.events(columns[0])
        if available < n:
            raise GenhepError(
                f"{samples_path}: {available} generated events, but the evaluation compares "
                f"{n} (raise sample.events_per_shard or sample.shards)"
            )
        table = f.read(columns, 0, n)
    return np.column_stack([table[c] for c in columns])


def sampling_info(samples_path: str | os.PathLike) -> dict[str, Any]:
    """The attributes of a sample file (how, where and how fast it was sampled)."""
    with open_samples(samples_path) as f:
        return f.attrs
