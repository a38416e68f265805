"""The CATHODE branch's event and score files: their HDF5 contents, written and read
here only, and the regions a window defines. Where each file lies: genhep.cathode.layout.

The stages live one module per step (``stage_fixed``, ``stage_data``, ``stage_template``,
``stage_anode``, ``stage_classify``, ``stage_evaluate``, ``stage_summary``), so that a
stage imports, and is rerun for, only the code it runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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


def write_scores(
    output,
    scores: np.ndarray,
    info: Mapping[str, Any],
    per_run: Mapping[str, np.ndarray] | None = None,
    sideband_scores: np.ndarray | None = None,
    sideband_mjj: np.ndarray | None = None,
) -> None:
    """A method's test scores (runs × n_test), as ``stage_evaluate.run`` reads them: dataset
    ``scores``, one dataset per entry of ``per_run`` (for classifiers: each run's
    ``check_auc_per_run`` and ``selection_auc_per_run``), the run's facts as attributes.
    With ``sideband_scores`` (runs × n, as ``scores``) and their events' ``sideband_mjj``
    (n,): the scores on the held-out sideband background (``read_sideband``), for the
    sculpting measurement."""
    if (sideband_scores is None) != (sideband_mjj is None):
        raise ValueError("write_scores: sideband_scores and sideband_mjj go together")
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("scores", data=scores.astype(np.float32))
        for name, values in (per_run or {}).items():
            f.create_dataset(name, data=values)
        if sideband_scores is not None:
            f.create_dataset("sideband_scores", data=sideband_scores.astype(np.float32))
            f.create_dataset("sideband_mjj", data=np.asarray(sideband_mjj, dtype=np.float64))
        for k, v in info.items():
            f.attrs[k] = v


def read_sideband(f: h5py.File) -> tuple[np.ndarray, np.ndarray] | None:
    """The (runs × n) scores on the held-out sideband background and their mjj (n,), of an
    open scores file; None where the method has none (supervised, ANODE)."""
    if "sideband_scores" not in f:
        return None
    return f["sideband_scores"][...], f["sideband_mjj"][...]
