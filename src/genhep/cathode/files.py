"""The CATHODE branch's event and score files: their HDF5 contents, written and read
here only, and the regions a window defines. Where each file lies: genhep.cathode.layout.

The stages live one module per step (``stage_fixed``, ``stage_data``, ``stage_template``,
``stage_anode``, ``stage_classify``, ``stage_evaluate``, ``stage_summary``), so that a
stage imports, and is rerun for, only the code it runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from genhep.cathode.datasets import Events
from genhep.cathode.regions import Regions
from genhep.io.atomic import atomic_path
from genhep.io.hdf5 import read_table, write_table
from genhep.settings.cathode import RegionSettings

TEV = {"mjj": "TeV", "mj_min": "TeV", "delta_mj": "TeV"}


def regions_for(window: float, s: RegionSettings) -> Regions:
    """The SR of width ``s.sr_width`` centred on ``window``, sidebands within
    ``s.mjj_range``."""
    half = s.sr_width / 2
    low, high = s.mjj_range
    return Regions(window - half, window + half, low, high)


def write_events(path: str | os.PathLike, events: Events, **attrs: Any) -> None:
    write_table(path, events.columns(), TEV, {"events": len(events), **attrs})


def read_events(path: str | os.PathLike) -> Events:
    table, attrs = read_table(path)
    names = [c for c in attrs["columns"] if c not in ("mjj", "label")]
    x = np.column_stack([table[c] for c in names]) if names else np.empty((len(table["mjj"]), 0))
    return Events(x, table["mjj"], table["label"], tuple(names))


@dataclass(frozen=True)
class ScoredEvents:
    """A classifier's scores on a set of events beside the test set, with what the
    evaluation needs of those events: their mjj and true label (1 signal, 0 background).

    Two such sets (``SCORED_SETS``): ``sideband``, the point's sideband events that no
    classifier trains on (``sb_holdout``: the sculpting measurement and the bump hunt's
    fit), and ``search``, the SR data events of the check slice, held out from every run
    (the bump hunt's observed SR count: scores no run was trained on)."""

    scores: np.ndarray  # (runs, n), as a test set's
    mjj: np.ndarray  # (n,), TeV
    label: np.ndarray  # (n,)


SCORED_SETS = ("sideband", "search")


def write_scores(
    output,
    scores: np.ndarray,
    info: Mapping[str, Any],
    per_run: Mapping[str, np.ndarray] | None = None,
    scored: Mapping[str, ScoredEvents] | None = None,
) -> None:
    """A method's test scores (runs × n_test), as ``stage_evaluate.run`` reads them: dataset
    ``scores``, one dataset per entry of ``per_run`` (for classifiers: each run's
    ``check_auc_per_run`` and ``selection_auc_per_run``), the run's facts as attributes,
    and a group per set of ``scored`` (names from ``SCORED_SETS``; ``read_scored``)."""
    unknown = set(scored or {}) - set(SCORED_SETS)
    if unknown:
        raise ValueError(f"write_scores: unknown scored set(s) {sorted(unknown)}")
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("scores", data=scores.astype(np.float32))
        for name, values in (per_run or {}).items():
            f.create_dataset(name, data=values)
        for name, events in (scored or {}).items():
            g = f.create_group(name)
            g.create_dataset("scores", data=np.asarray(events.scores, dtype=np.float32))
            g.create_dataset("mjj", data=np.asarray(events.mjj, dtype=np.float64))
            g.create_dataset("label", data=np.asarray(events.label, dtype=np.int64))
        for k, v in info.items():
            f.attrs[k] = v


def read_scored(f: h5py.File, name: str) -> ScoredEvents | None:
    """The scored set ``name`` (``SCORED_SETS``) of an open scores file; None where the
    method has none (supervised and ANODE: no sideband or check-slice scores)."""
    if name not in f:
        return None
    g = f[name]
    return ScoredEvents(g["scores"][...], g["mjj"][...], g["label"][...])
