"""Ingestion: ROOT files → event-feature table (HDF5), in bounded memory.

Each file is read in chunks of ``chunk_size`` events with ``uproot`` (an LHC Olympics
features HDF5 file, mapping ``lhco_rnd``, with h5py: genhep.io.lhco); jagged jets stay in
awkward arrays until the two leading jets are picked. :func:`ingest` reads files through
one mapping; :func:`ingest_datasets` reads the rows of a dataset sheet (genhep.datasets),
each through its own mapping, with a per-dataset label or weight where the sheet gives one.
Events are dropped, and counted by reason, when they have fewer than two selected jets,
fail the mjj window, or carry a NaN or infinite feature. Everything is written atomically:
on any error no output is left. The settings (chunk size, :class:`Selection`) are
``genhep.settings.data.IngestSettings`` (the config's ``ingest`` section).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

import genhep
from genhep.datasets import Dataset, dataset_paths
from genhep.errors import GenhepError
from genhep.features import (
    FEATURE_UNITS,
    KINEMATIC_FEATURES,
    LHCO_FEATURES,
    leading_pair,
    lhco_features,
    select_jets,
)
from genhep.io.atomic import atomic_path
from genhep.io.hdf5 import TableWriter, write_attrs
from genhep.io.lhco import iterate_lhco
from genhep.io.mapped import flat_columns, jets_from_chunk
from genhep.io.mappings import ENERGY_TO_TEV, BranchMapping, resolve_mapping
from genhep.io.root import iterate_mapped
from genhep.settings.data import IngestSettings, Selection
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

DROP_REASONS = ("fewer_than_2_jets", "trigger", "mjj_window", "nonfinite_feature")
# The default selection: two jets of any pT and finite features.
NO_CUTS = Selection()


def _chunk_features(
    arrays: dict[str, ak.Array], mapping: BranchMapping, selection: Selection, dropped: Counter
) -> dict[str, np.ndarray]:
    """Features of one chunk after selection; drop counts are added to ``dropped``."""
    label = ak.to_numpy(arrays[mapping.label]).astype(np.int32) if mapping.label else None
    weight = ak.to_numpy(arrays[mapping.weight]).astype(np.float64) if mapping.weight else None
    if mapping.kind == "jets":
        jets = select_jets(
            jets_from_chunk(arrays, mapping), selection.min_jet_pt, selection.max_abs_eta
        )
        j1, j2, has_two = leading_pair(jets)
        dropped["fewer_than_2_jets"] += int((~has_two).sum())
        cols = lhco_features(j1, j2)
        label = None if label is None else label[has_two]
        weight = None if weight is None else weight[has_two]
        keep = np.ones(len(j1), dtype=bool)
        if selection.leading_jet_min_pt is not None:
            keep &= ak.to_numpy(j1.pt) >= selection.leading_jet_min_pt
            dropped["trigger"] += int((~keep).sum())
    else:
        cols = flat_columns(arrays, mapping)
        keep = np.ones(len(next(iter(cols.values()))), dtype=bool)
    if "mjj" in cols:
        window = np.ones_like(keep)
        if selection.mjj_min is not None:
            window &= cols["mjj"] >= selection.mjj_min
        if selection.mjj_max is not None:
            window &= cols["mjj"] <= selection.mjj_max
        dropped["mjj_window"] += int((keep & ~window).sum())
        keep &= window
    finite = np.logical_and.reduce([np.isfinite(v) for v in cols.values()])
    dropped["nonfinite_feature"] += int((keep & ~finite).sum())
    keep &= finite
    cols = {k: v[keep] for k, v in cols.items()}
    if label is not None:
        cols["label"] = label[keep]
    if weight is not None:
        cols["weight"] = weight[keep]
    return cols


@dataclass(frozen=True)
class Source:
    """One input file, the mapping that reads it, and what its dataset gives every event."""

    path: str | os.PathLike
    mapping: BranchMapping
    dataset: str | None = None  # the dataset sheet's name for the file
    label: int | None = None  # a constant label for every event (else the mapping's branch)
    weight: float | None = None  # a constant per-event weight (else the mapping's branch)


def _read_chunks(path: str | os.PathLike, mapping: BranchMapping, chunk_size: int):
    """``({name: array}, events)`` chunks of one file, by the mapping's file format: ROOT
    (uproot) or an LHC Olympics features HDF5 table (genhep.io.lhco)."""
    if mapping.file_format == "lhco_hdf5":
        return iterate_lhco(path, mapping, chunk_size)
    return iterate_mapped(path, mapping, chunk_size)


def feature_columns(mapping: BranchMapping) -> tuple[list[str], dict[str, str]]:
    """The feature columns a mapping gives, and their units as stored (TeV for energies)."""
    if mapping.kind == "jets":
        columns = list(LHCO_FEATURES if mapping.has_taus else KINEMATIC_FEATURES)
        return columns, {c: FEATURE_UNITS[c] for c in columns}
    units = {k: ("TeV" if u in ENERGY_TO_TEV else u) for k, u in mapping.units.items()}
    return list(mapping.fields), units


def _source_name(source: Source) -> str:
    return f"dataset {source.dataset!r}" if source.dataset else str(source.path)


def _table_layout(sources: Sequence[Source]) -> tuple[list[str], dict[str, str]]:
    """Columns and units of the output table; every source must give the same ones."""
    layouts: dict[tuple, list[Source]] = {}
    for source in sources:
        columns, units = feature_columns(source.mapping)
        for extra in ("label", "weight"):
            if getattr(source.mapping, extra) or getattr(source, extra) is not None:
                columns.append(extra)
                units[extra] = ""
        layouts.setdefault((tuple(columns), tuple(sorted(units.items()))), []).append(source)
    if len(layouts) > 1:
        described = "; ".join(
            f"{', '.join(dict.fromkeys(_source_name(s) for s in group))} "
            f"{'gives' if len(group) == 1 else 'give'} {list(columns)}"
            + (f" in {dict(units)}" if any(u for _, u in units) else "")
            for (columns, units), group in layouts.items()
        )
        raise GenhepError(
            "the inputs do not give the same columns, so they cannot share one table "
            "(every dataset needs the same features, and a label and a weight in all of "
            f"them or in none): {described}"
        )
    (columns, units), _ = layouts.popitem()
    return list(columns), dict(units)


def _one_or_per_dataset(sources: Sequence[Source], value) -> Any:
    """A mapping property as one value if every source shares it, else by dataset name."""
    values = {s.dataset or str(s.path): value(s.mapping) for s in sources}
    distinct = {repr(v) for v in values.values()}
    return next(iter(values.values())) if len(distinct) == 1 else values


def _ingest_sources(
    sources: Sequence[Source],
    output: str | os.PathLike,
    selection: Selection,
    chunk_size: int,
    progress=None,
    datasets: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Read every source in order, compute features, write ``output`` (atomically);
    returns the provenance, which is also written as the file's attributes."""
    featured = [s for s in sources if s.mapping.kind != "jets"]
    if selection.leading_jet_min_pt is not None and featured:
        raise GenhepError(
            f"config key ingest.selection.leading_jet_min_pt: {_source_name(featured[0])} is "
            "read as event features, not jets, so it has no leading jet to trigger on "
            "(set the cut to null)"
        )
    columns, units = _table_layout(sources)
    dropped: Counter = Counter({reason: 0 for reason in DROP_REASONS})
    read_per_file: dict[str, int] = {}
    kept_per_source: list[int] = []
    paths = [s.path for s in sources]
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        writer = TableWriter(h5, units)
        for source in sources:
            n_read, rows_before = 0, writer.rows
            for arrays, n in _read_chunks(source.path, source.mapping, chunk_size):
                n_read += n
                cols = _chunk_features(arrays, source.mapping, selection, dropped)
                n_kept = len(next(iter(cols.values())))
                if source.label is not None:
                    cols["label"] = np.full(n_kept, source.label, dtype=np.int32)
                if source.weight is not None:
                    cols["weight"] = np.full(n_kept, source.weight, dtype=np.float64)
                writer.append({c: cols[c] for c in columns})
                if progress:
                    progress(source.path, n_read)
            read_per_file[str(source.path)] = n_read
            kept_per_source.append(writer.rows - rows_before)
        events_read = sum(read_per_file.values())
        if writer.rows == 0:
            reasons = ", ".join(f"{k}: {v}" for k, v in dropped.items() if v)
            raise GenhepError(
                f"no events left after selection in {', '.join(map(str, paths))} "
                f"(read {events_read}; dropped {reasons or 'none'}; "
                f"selection: {selection.describe()})"
            )
        provenance = {
            "columns": columns,
            "source_files": [str(Path(p).resolve()) for p in paths],
            "events_read_per_file": read_per_file,
            "tree": _one_or_per_dataset(sources, lambda m: m.tree),
            "branch_mapping": _one_or_per_dataset(sources, lambda m: m.describe()),
            "selection": selection.describe(),
            "events_read": events_read,
            "events_kept": writer.rows,
            "events_dropped": sum(dropped.values()),
            **{f"dropped_{k}": v for k, v in dropped.items()},
            "chunk_size": chunk_size,
            "genhep_version": genhep.__version__,
            "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        if datasets is not None:
            # Aligned with source_files: each file's dataset, the label it gave its events
            # (0 or 1 for every event, a label branch's name, or null) and its events kept.
            provenance["file_datasets"] = [s.dataset for s in sources]
            provenance["file_labels"] = [
                s.label if s.label is not None else s.mapping.label for s in sources
            ]
            provenance["events_kept_per_file"] = list(kept_per_source)
            summary = []
            for entry in datasets:
                mine = [i for i, s in enumerate(sources) if s.dataset == entry["name"]]
                summary.append(
                    {
                        **entry,
                        "events_read": sum(read_per_file[str(sources[i].path)] for i in mine),
                        "events_kept": sum(kept_per_source[i] for i in mine),
                    }
                )
            provenance["datasets"] = summary
        write_attrs(h5, provenance)
    return provenance


def ingest(
    paths: Sequence[str | os.PathLike],
    mapping: BranchMapping,
    output: str | os.PathLike,
    selection: Selection = NO_CUTS,
    chunk_size: int = IngestSettings.chunk_size,
    progress=None,
) -> dict[str, Any]:
    """Read every file, compute features, write ``output``. Returns the provenance dict.

    The files are ROOT files, or LHC Olympics features HDF5 tables for the ``lhco_rnd``
    mapping (``mapping.file_format``): the same selection, features and provenance."""
    if not paths:
        raise GenhepError("files.paths: no input files given")
    sources = [Source(path, mapping) for path in paths]
    return _ingest_sources(sources, output, selection, chunk_size, progress)


def ingest_datasets(
    datasets: Sequence[Any],
    output: str | os.PathLike,
    selection: Selection = NO_CUTS,
    chunk_size: int = IngestSettings.chunk_size,
    progress=None,
) -> dict[str, Any]:
    """Ingest the rows of a dataset sheet (:class:`genhep.datasets.Dataset`, or their
    ``as_dict()`` form) into one table, in order.

    Each dataset is read through its own mapping (tree, label and weight as the sheet
    says); a constant label (0/1) or weight fills the ``label`` / ``weight`` column for
    every event of its files. All datasets must give the same columns. Provenance as for
    :func:`ingest`, plus ``datasets`` (each row with its files, events read and kept) and,
    aligned with ``source_files``: ``file_datasets``, ``file_labels``,
    ``events_kept_per_file``.
    """
    datasets = [d if isinstance(d, Dataset) else Dataset.from_dict(d) for d in datasets]
    if not datasets:
        raise GenhepError("no datasets given")
    sources = []
    for dataset in datasets:
        mapping = dataset.branch_mapping()
        sources += [
            Source(path, mapping, dataset.name, dataset.label_constant, dataset.weight_constant)
            for path in dataset.paths
        ]
    summary = [
        {
            "name": d.name,
            "mapping": d.mapping,
            "tree": d.tree,
            "label": d.label,
            "weight": d.weight,
            "files": [str(Path(p).resolve()) for p in d.paths],
        }
        for d in datasets
    ]
    return _ingest_sources(sources, output, selection, chunk_size, progress, summary)


def _progress(path: str | os.PathLike, n: int) -> None:
    log.info("%s: %d events read", path, n)


def _check_source(settings: IngestSettings, roots: Sequence[Path]) -> None:
    """The job says what to read in one way: the dataset sheet's rows (whose files are the
    stage's ``roots``), or a mapping for the ``roots``."""
    if settings.datasets is not None:
        if settings.mapping is not None or settings.tree is not None:
            raise GenhepError("--params: datasets replaces mapping and tree: give one or the other")
        if not isinstance(settings.datasets, list):
            raise GenhepError(
                "--params: datasets: expected a JSON list of datasets (Dataset.as_dict())"
            )
        rows = [d if isinstance(d, Dataset) else Dataset.from_dict(d) for d in settings.datasets]
        if [Path(p) for p in dataset_paths(rows)] != list(roots):
            raise GenhepError(
                "--roots: must be the datasets' files, in order (genhep.datasets.dataset_paths)"
            )
    elif settings.mapping is None:
        raise GenhepError("--params: give a mapping (for the --roots files) or datasets")


def run(settings: IngestSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The ingest stage: the files ``inputs.roots``, read through ``settings.mapping`` or
    as the rows of ``settings.datasets``, to the feature table ``outputs.features``."""
    _check_source(settings, inputs.roots)
    start = time.perf_counter()
    if settings.datasets is not None:
        prov = ingest_datasets(
            settings.datasets,
            outputs.features,
            settings.selection,
            settings.chunk_size,
            _progress,
        )
    else:
        mapping = resolve_mapping(settings.mapping, tree=settings.tree)
        prov = ingest(
            inputs.roots,
            mapping,
            outputs.features,
            settings.selection,
            settings.chunk_size,
            _progress,
        )
    seconds = time.perf_counter() - start
    log.info(
        "kept %d of %d events (dropped: %s) -> %s in %.1f s",
        prov["events_kept"],
        prov["events_read"],
        {k: v for k, v in prov.items() if k.startswith("dropped_")},
        outputs.features,
        seconds,
    )
    for dataset in prov.get("datasets", []):
        log.info(
            "dataset %s (label %s): kept %d of %d events",
            dataset["name"],
            dataset["label"],
            dataset["events_kept"],
            dataset["events_read"],
        )
    return prov


STAGE = Stage(
    "ingest",
    run,
    IngestSettings,
    inputs=("roots*",),
    outputs=("features",),
    description="Read ROOT files (or LHC Olympics features HDF5 files) through a branch "
    "mapping, or the datasets of a dataset sheet, and write the event-feature table (HDF5).",
)
