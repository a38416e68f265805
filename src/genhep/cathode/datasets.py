"""The data sets of one CATHODE search point: who gets which events.

Everything starts from a labelled event table (label 1 = signal, 0 = background): the
toy's truth, or a file's labels. One seeded partition, shared by every signal level and
signal-region window of a seed, cuts it into

* background: ``data`` (the measured events), ``reference`` (true background for the
  idealized detector only) and ``test`` (evaluation only), by configured fractions;
* signal: ``test`` (evaluation only) and the ``pool`` from which the injection takes its
  first ``level`` events (so a larger level contains every smaller one) and on which the
  supervised baseline trains.

The data of a point are the data background plus the injected signal, over the whole
mjj range: signal that falls into the sidebands is there too, as in a real search.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from genhep.cathode.regions import Regions
from genhep.errors import GenhepError
from genhep.io.hdf5 import read_table

BACKGROUND_SHARES = ("data", "reference", "test")


@dataclass(frozen=True)
class Events:
    """Physical features (n, d), mjj (n,) and truth labels (n,) of a labelled table."""

    x: np.ndarray
    mjj: np.ndarray
    label: np.ndarray
    feature_names: tuple[str, ...]

    def take(self, idx: np.ndarray) -> Events:
        return Events(self.x[idx], self.mjj[idx], self.label[idx], self.feature_names)

    def where(self, mask: np.ndarray) -> Events:
        return self.take(np.flatnonzero(mask))

    def __len__(self) -> int:
        return len(self.mjj)

    def columns(self) -> dict[str, np.ndarray]:
        cols = {name: self.x[:, i] for i, name in enumerate(self.feature_names)}
        return {**cols, "mjj": self.mjj, "label": self.label}

    @classmethod
    def concat(cls, parts: Sequence[Events]) -> Events:
        return cls(
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.mjj for p in parts]),
            np.concatenate([p.label for p in parts]),
            parts[0].feature_names,
        )


def load_events(path: str | os.PathLike, feature_names: Sequence[str]) -> Events:
    """The CATHODE inputs of a feature table; its truth labels are required."""
    table, _ = read_table(path)
    if "label" not in table:
        raise GenhepError(
            f"{path}: CATHODE needs truth labels (a 'label' column: 1 signal, 0 background) "
            "to inject signal and to evaluate; map a label branch in files.mapping"
        )
    missing = [c for c in (*feature_names, "mjj") if c not in table]
    if missing:
        raise GenhepError(
            f"config key cathode.features: {path} has no column(s) {missing} (has: {sorted(table)})"
        )
    x = np.column_stack([table[c] for c in feature_names]).astype(np.float64)
    label = table["label"].astype(np.int64)
    if not np.isin(label, (0, 1)).all():
        raise GenhepError(f"{path}: column 'label' must hold 0 (background) or 1 (signal)")
    return Events(x, table["mjj"].astype(np.float64), label, tuple(feature_names))


@dataclass(frozen=True)
class Partition:
    background: dict[str, np.ndarray]  # share -> row indices
    signal_test: np.ndarray
    signal_pool: np.ndarray  # in injection order


def partition(
    label: np.ndarray,
    background_split: Mapping[str, float],
    signal_test_fraction: float,
    seed: int,
) -> Partition:
    """The seeded assignment of every event to one share (see the module docstring)."""
    total = sum(background_split[s] for s in BACKGROUND_SHARES)
    if not np.isclose(total, 1.0):
        raise GenhepError(
            f"config key cathode.background_split: fractions must sum to 1 (they sum to {total:g})"
        )
    rng = np.random.default_rng([seed, 2109_00546])
    bkg = rng.permutation(np.flatnonzero(label == 0))
    sig = rng.permutation(np.flatnonzero(label == 1))
    cuts = np.round(np.cumsum([background_split[s] for s in BACKGROUND_SHARES]) * len(bkg))
    parts = np.split(bkg, cuts[:-1].astype(int))
    n_sig_test = round(signal_test_fraction * len(sig))
    return Partition(
        background={s: np.sort(p) for s, p in zip(BACKGROUND_SHARES, parts, strict=True)},
        signal_test=np.sort(sig[:n_sig_test]),
        signal_pool=sig[n_sig_test:],
    )


def injected_data(events: Events, part: Partition, level: int) -> Events:
    """The measured events of a point: data background plus the first ``level`` pool signal."""
    if level > len(part.signal_pool):
        raise GenhepError(
            f"config key cathode.signal_levels: {level} injected signal events asked for, but "
            f"the signal pool holds {len(part.signal_pool)} (more signal events are needed, "
            "or a smaller cathode.signal_test_fraction)"
        )
    rows = np.sort(np.concatenate([part.background["data"], part.signal_pool[:level]]))
    return events.take(rows)


def short_sidebands(mjj: np.ndarray, regions: Regions, width: float) -> np.ndarray:
    """The sidebands within ``width`` of the SR edges: CWoLa hunting's background proxy."""
    below = (mjj >= regions.sr_low - width) & (mjj < regions.sr_low)
    above = (mjj >= regions.sr_high) & (mjj < regions.sr_high + width)
    return (below | above) & (mjj >= regions.low) & (mjj < regions.high)


def fixed_sets(events: Events, part: Partition, regions: Regions) -> dict[str, Events]:
    """The SR sets that no injection level changes: labelled test, true-background
    reference (idealized detector) and the signal pool's SR events (supervised)."""
    everywhere = {
        "test": Events.concat(
            [events.take(part.background["test"]), events.take(part.signal_test)]
        ),
        "reference": events.take(part.background["reference"]),
        "signal": events.take(np.sort(part.signal_pool)),
    }
    sets = {name: s.where(regions.signal_region(s.mjj)) for name, s in everywhere.items()}
    # A window without signal is what most windows of a real search are: the signal sets
    # may be empty there (the evaluation then reports the background-only figures), the
    # background may not.
    for name, s in sets.items():
        if name != "signal" and (s.label == 0).sum() == 0:
            raise GenhepError(
                f"the signal region [{regions.sr_low}, {regions.sr_high}) holds no {name}"
                " background events (check cathode.windows, cathode.sr_width and"
                " cathode.background_split)"
            )
    return sets
