"""Ingestion: ROOT files → event-feature table (HDF5), in bounded memory.

Each file is read in chunks of ``chunk_size`` events with ``uproot``; jagged jets stay in
awkward arrays until the two leading jets are picked. Events are dropped, and counted by
reason, when they have fewer than two selected jets, fail the mjj window, or carry a NaN
or infinite feature. Everything is written atomically: on any error no output is left.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

import genhep
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
from genhep.io.mappings import ENERGY_TO_TEV, BranchMapping
from genhep.io.root import iterate_mapped

DROP_REASONS = ("fewer_than_2_jets", "mjj_window", "nonfinite_feature")


@dataclass(frozen=True)
class Selection:
    """Event selection, energies in TeV; ``None`` switches a cut off."""

    min_jet_pt: float = 0.0
    max_abs_eta: float | None = None
    mjj_min: float | None = None
    mjj_max: float | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> Selection:
        return cls(**(cfg or {}))

    def describe(self) -> str:
        parts = [f"two leading jets with pt >= {self.min_jet_pt} TeV"]
        if self.max_abs_eta is not None:
            parts[0] += f" and |eta| <= {self.max_abs_eta}"
        if self.mjj_min is not None:
            parts.append(f"mjj >= {self.mjj_min} TeV")
        if self.mjj_max is not None:
            parts.append(f"mjj <= {self.mjj_max} TeV")
        parts.append("all features finite")
        return "; ".join(parts)


def _jets_from_chunk(arrays: dict[str, ak.Array], mapping: BranchMapping) -> ak.Array:
    scale = ENERGY_TO_TEV[mapping.energy_unit]
    fields = {}
    for key, field in mapping.fields.items():
        values = arrays[field.branch]
        if field.index is not None:
            values = values[..., field.index]
        if key in ("pt", "mass"):
            values = values * scale
        fields[key] = values
    return ak.zip(fields)


def _flat_columns(arrays: dict[str, ak.Array], mapping: BranchMapping) -> dict[str, np.ndarray]:
    cols = {}
    for name, field in mapping.fields.items():
        values = arrays[field.branch]
        if field.index is not None:
            values = values[..., field.index]
        values = ak.to_numpy(values).astype(np.float64)
        if mapping.units.get(name) in ENERGY_TO_TEV:
            values = values * ENERGY_TO_TEV[mapping.units[name]]
        cols[name] = values
    return cols


def _chunk_features(
    arrays: dict[str, ak.Array], mapping: BranchMapping, selection: Selection, dropped: Counter
) -> dict[str, np.ndarray]:
    """Features of one chunk after selection; drop counts are added to ``dropped``."""
    label = ak.to_numpy(arrays[mapping.label]).astype(np.int32) if mapping.label else None
    weight = ak.to_numpy(arrays[mapping.weight]).astype(np.float64) if mapping.weight else None
    if mapping.kind == "jets":
        jets = select_jets(
            _jets_from_chunk(arrays, mapping), selection.min_jet_pt, selection.max_abs_eta
        )
        j1, j2, has_two = leading_pair(jets)
        dropped["fewer_than_2_jets"] += int((~has_two).sum())
        cols = lhco_features(j1, j2)
        label = None if label is None else label[has_two]
        weight = None if weight is None else weight[has_two]
    else:
        cols = _flat_columns(arrays, mapping)
    keep = np.ones(len(next(iter(cols.values()))), dtype=bool)
    if "mjj" in cols:
        if selection.mjj_min is not None:
            keep &= cols["mjj"] >= selection.mjj_min
        if selection.mjj_max is not None:
            keep &= cols["mjj"] <= selection.mjj_max
        dropped["mjj_window"] += int((~keep).sum())
    finite = np.logical_and.reduce([np.isfinite(v) for v in cols.values()])
    dropped["nonfinite_feature"] += int((keep & ~finite).sum())
    keep &= finite
    cols = {k: v[keep] for k, v in cols.items()}
    if label is not None:
        cols["label"] = label[keep]
    if weight is not None:
        cols["weight"] = weight[keep]
    return cols


def ingest(
    paths: Sequence[str | os.PathLike],
    mapping: BranchMapping,
    output: str | os.PathLike,
    selection: Selection = Selection(),
    chunk_size: int = 100_000,
    progress=None,
) -> dict[str, Any]:
    """Read every file, compute features, write ``output``. Returns the provenance dict."""
    if not paths:
        raise GenhepError("files.paths: no input files given")
    if mapping.kind == "jets":
        columns = list(LHCO_FEATURES if mapping.has_taus else KINEMATIC_FEATURES)
        units = {c: FEATURE_UNITS[c] for c in columns}
    else:
        columns = list(mapping.fields)
        units = {k: ("TeV" if u in ENERGY_TO_TEV else u) for k, u in mapping.units.items()}
    for extra in ("label", "weight"):
        if getattr(mapping, extra):
            columns.append(extra)
            units[extra] = ""

    dropped: Counter = Counter({reason: 0 for reason in DROP_REASONS})
    read_per_file: dict[str, int] = {}
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        writer = TableWriter(h5, units)
        for path in paths:
            n_read = 0
            for arrays, n in iterate_mapped(path, mapping, chunk_size):
                n_read += n
                cols = _chunk_features(arrays, mapping, selection, dropped)
                writer.append({c: cols[c] for c in columns})
                if progress:
                    progress(path, n_read)
            read_per_file[str(path)] = n_read
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
            "tree": mapping.tree,
            "branch_mapping": mapping.describe(),
            "selection": selection.describe(),
            "events_read": events_read,
            "events_kept": writer.rows,
            "events_dropped": sum(dropped.values()),
            **{f"dropped_{k}": v for k, v in dropped.items()},
            "chunk_size": chunk_size,
            "genhep_version": genhep.__version__,
            "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        write_attrs(h5, provenance)
    return provenance
