"""Preprocessing: a seeded train/val/test split and invertible transforms fitted on train.

The default chain is CATHODE's: min-max scaling into (0, 1), the logit, then
standardization. Each step is fitted on the output of the previous one, on the training
split only, and the whole chain is saved as JSON so any sample can be mapped back to
physical units with :meth:`TransformChain.inverse`.

Min-max bounds are widened by a margin on each side, so that the logit of every training
event is finite; validation/test events outside the widened bounds have no image under
the logit and are dropped, counted per split.

**Physical bounds.** Each column may have a physical range (genhep.features.FEATURE_BOUNDS:
masses ≥ 0, 0 ≤ τ21 ≤ 1; config key preprocess.bounds for others). The min-max bounds are
the widened training range *intersected* with it, so the inverse (expit into (0, 1), then
min-max) can only land inside the physical range: no generated event is unphysical by
construction. Two edge cases:

- an event *outside* its physical range (broken input) has no image: it is dropped from
  every split, counted (``dropped_unphysical``) and named by column in the log;
- an event *exactly on* a physical bound that is also the min-max bound (τ21 = 0 of a
  one-constituent jet, a massless jet) would be logit(0) = −∞. It is moved
  :data:`BOUND_NUDGE` of the min-max width inside (``nudged_off_bound``): 1e-4 of τ21's
  range, about 0.1 GeV for a mass, far below any resolution, and a finite logit (≈ −9.2)
  instead of a dropped event. The inverse maps it back to that nudged value.

The guarantee needs the chain to start with minmax then logit (the default). The
Jacobian of the chain (:meth:`TransformChain.log_abs_det_jacobian`) turns a density in the
preprocessed space into one in physical units (genhep.evaluate).

What a stage reads is validated here, so every stage gets it: the feature table
(genhep.io.hdf5.read_table: readable, finite), a split file (:func:`load_split`: readable,
complete, finite, not empty) and the transforms (:meth:`Preprocessor.load`: finite
parameters). A damaged file is named with how to regenerate it. Preprocessing itself
refuses splits too small for training, validation and the evaluation's classifier test
(:func:`check_split_sizes`) before it writes anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
from scipy.special import expit, logit

from genhep.errors import GenhepError
from genhep.io.atomic import HDF5_OVERHEAD_BYTES, atomic_path, reserve
from genhep.io.hdf5 import check_columns, damaged, read_table, write_attrs

log = logging.getLogger("genhep")

SPLITS = ("train", "val", "test")
# The rules that write what this module reads: named in "rerun with -R <rule>".
FEATURES_RULE, SPLITS_RULE = "ingest", "preprocess"
# The smallest training and validation splits worth fitting a generative model on.
MIN_TRAIN_EVENTS = 10
MIN_VAL_EVENTS = 10
# The evaluation's classifiers (genhep.metrics) stop early on a stratified 10 % of their
# training folds, which needs at least two events (one per class): ceil(0.1 * n) >= 2.
_CLASSIFIER_MIN_TRAIN = 11
# An event exactly on a physical bound is moved this fraction of the min-max width inside:
# the logit of the bound itself is infinite (see the module docstring).
BOUND_NUDGE = 1e-4


class Step:
    """One invertible, column-wise transform with parameters fitted on data."""

    name: ClassVar[str]

    def fit(self, x: np.ndarray) -> Step:
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def inverse(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def log_abs_det_jacobian(self, x: np.ndarray) -> np.ndarray:
        """log |∂forward(x)/∂x| per element, shape of ``x`` (every step is column-wise)."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {}


class MinMax(Step):
    """x → (x − lo) / (hi − lo), bounds = training range widened by ``margin`` × range,
    intersected with the columns' physical ranges (``physical_lo``, ``physical_hi``: set by
    the chain, ±inf where open)."""

    name = "minmax"

    def __init__(self, margin: float = 0.05, lo=None, hi=None):
        self.margin = margin
        self.lo = None if lo is None else np.asarray(lo, dtype=np.float64)
        self.hi = None if hi is None else np.asarray(hi, dtype=np.float64)
        self.physical_lo: np.ndarray | float = -np.inf
        self.physical_hi: np.ndarray | float = np.inf

    def fit(self, x):
        lo, hi = x.min(axis=0), x.max(axis=0)
        width = hi - lo
        if np.any(width <= 0):
            raise ValueError(f"constant column(s) {np.flatnonzero(width <= 0).tolist()}")
        self.lo = np.maximum(lo - self.margin * width, self.physical_lo)
        self.hi = np.minimum(hi + self.margin * width, self.physical_hi)
        return self

    def on_bound(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(at the lower, at the upper) bound that is physical: where the event is nudged."""
        return (
            (x == self.lo) & (self.lo == self.physical_lo),
            (x == self.hi) & (self.hi == self.physical_hi),
        )

    def forward(self, x):
        u = (x - self.lo) / (self.hi - self.lo)
        at_lo, at_hi = self.on_bound(x)
        return np.where(at_lo, BOUND_NUDGE, np.where(at_hi, 1.0 - BOUND_NUDGE, u))

    def inverse(self, y):
        x = y * (self.hi - self.lo) + self.lo
        # For y in [0, 1] the exact result lies in [lo, hi]; the clip only undoes rounding
        # (y = 1 can land a last digit above hi, hence above a physical bound).
        inside = (y >= 0) & (y <= 1)
        return np.where(inside, np.clip(x, self.lo, self.hi), x)

    def log_abs_det_jacobian(self, x):
        return np.broadcast_to(-np.log(self.hi - self.lo), np.shape(x))

    def params(self):
        return {"margin": self.margin, "lo": self.lo.tolist(), "hi": self.hi.tolist()}


class Logit(Step):
    """p → log(p / (1 − p)); NaN outside (0, 1)."""

    name = "logit"

    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = logit(x)
        y[(x <= 0) | (x >= 1)] = np.nan  # the bounds themselves map to ±inf: no image
        return y

    def inverse(self, y):
        return expit(y)

    def log_abs_det_jacobian(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -(np.log(x) + np.log1p(-x))  # d logit(p)/dp = 1 / (p (1 − p))


class Standardize(Step):
    """x → (x − mean) / std."""

    name = "standardize"

    def __init__(self, mean=None, std=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    def fit(self, x):
        self.mean, self.std = x.mean(axis=0), x.std(axis=0)
        if np.any(self.std <= 0):
            raise ValueError(f"zero-variance column(s) {np.flatnonzero(self.std <= 0).tolist()}")
        return self

    def forward(self, x):
        return (x - self.mean) / self.std

    def inverse(self, y):
        return y * self.std + self.mean

    def log_abs_det_jacobian(self, x):
        return np.broadcast_to(-np.log(self.std), np.shape(x))

    def params(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


STEP_TYPES: dict[str, type[Step]] = {cls.name: cls for cls in (MinMax, Logit, Standardize)}


Bounds = dict[str, tuple[float | None, float | None]]


def physical_bounds(names: Sequence[str], overrides: Mapping[str, Any] | None = None) -> Bounds:
    """The physical range (lo, hi) of each bounded column of ``names`` (None: open end):
    genhep.features.FEATURE_BOUNDS for the known features, replaced per column by
    ``overrides`` (config key preprocess.bounds, {column: [lo, hi]}; [null, null] lifts a
    default). Columns with neither end bounded are left out."""
    from genhep.features import FEATURE_BOUNDS  # here: it imports awkward and vector

    found: Bounds = {}
    for name in names:
        lo, hi = (overrides or {}).get(name, FEATURE_BOUNDS.get(name, (None, None)))
        if lo is not None or hi is not None:
            found[name] = (None if lo is None else float(lo), None if hi is None else float(hi))
    return found


def check_bounds(overrides: Mapping[str, Any], columns: Sequence[str]) -> None:
    """Config key preprocess.bounds: columns that exist, [lo, hi] with lo < hi."""
    for name, value in overrides.items():
        where = f"config key preprocess.bounds.{name}"
        if name not in columns:
            raise GenhepError(f"{where}: no such column (has: {list(columns)})")
        pair = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
        if not pair or not all(v is None or _finite_number(v) for v in value):
            raise GenhepError(f"{where}: must be [lo, hi], numbers or null, not {value!r}")
        if None not in value and not value[0] < value[1]:
            raise GenhepError(f"{where}: lo must be below hi, not {list(value)}")


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


class TransformChain:
    """An ordered list of steps applied to the columns ``names``.

    ``bounds``: the physical range of the bounded columns (:func:`physical_bounds`); a
    leading minmax step keeps inside it. None: a transform saved before bounds existed
    (nothing enforced; the evaluation then counts against FEATURE_BOUNDS).
    """

    def __init__(self, names: Sequence[str], steps: Sequence[Step], bounds: Bounds | None = None):
        self.names = list(names)
        self.steps = list(steps)
        self.bounds = None if bounds is None else {c: tuple(b) for c, b in bounds.items()}
        if self.steps and isinstance(self.steps[0], MinMax):
            self.steps[0].physical_lo, self.steps[0].physical_hi = self.bound_arrays()

    @classmethod
    def build(
        cls,
        names: Sequence[str],
        step_names: Sequence[str],
        margin: float = 0.05,
        bounds: Mapping[str, Any] | None = None,
    ):
        """The unfitted chain; ``bounds`` overrides the known features' physical ranges."""
        steps = []
        for step in step_names:
            if step not in STEP_TYPES:
                raise GenhepError(
                    f"config key preprocess: unknown transform {step!r} (known: {list(STEP_TYPES)})"
                )
            steps.append(MinMax(margin) if step == "minmax" else STEP_TYPES[step]())
        return cls(names, steps, physical_bounds(names, bounds))

    def bound_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) per column, −inf / +inf where open."""
        bounds = self.bounds or {}
        lo = [bounds.get(c, (None, None))[0] for c in self.names]
        hi = [bounds.get(c, (None, None))[1] for c in self.names]
        return (
            np.array([-np.inf if v is None else v for v in lo]),
            np.array([np.inf if v is None else v for v in hi]),
        )

    def outside(self, x: np.ndarray) -> np.ndarray:
        """Where a value lies outside its column's physical range (bool, shape of ``x``)."""
        lo, hi = self.bound_arrays()
        x = np.asarray(x, dtype=np.float64)
        return (x < lo) | (x > hi)

    def on_bound(self, x: np.ndarray) -> np.ndarray:
        """Where a value sits exactly on a physical bound that the min-max step nudges."""
        first = self.steps[0] if self.steps else None
        if not isinstance(first, MinMax) or first.lo is None:
            return np.zeros(np.shape(x), dtype=bool)
        at_lo, at_hi = first.on_bound(np.asarray(x, dtype=np.float64))
        return at_lo | at_hi

    def fit(self, x: np.ndarray) -> TransformChain:
        """Fit each step on the output of the previous one. Events outside the physical
        bounds are left out (they are dropped from every split), and so are events a step
        maps outside its image (the logit of the min-max bounds themselves, with
        minmax_margin: 0): they are dropped from every split anyway."""
        x = np.asarray(x, dtype=np.float64)
        x = x[~self.outside(x).any(axis=1)]
        for step in self.steps:
            if len(x) == 0:
                raise GenhepError(
                    f"cannot fit {step.name} on columns {self.names}: no training event is "
                    "left inside the physical bounds and the earlier transforms' range "
                    "(check preprocess.bounds, raise preprocess.minmax_margin)"
                )
            try:
                step.fit(x)
            except ValueError as err:
                raise GenhepError(f"cannot fit {step.name} on columns {self.names}: {err}") from err
            x = step.forward(x)
            x = x[np.isfinite(x).all(axis=1)]
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The preprocessed values; NaN for a value outside its physical range (no image)."""
        x = np.array(x, dtype=np.float64)
        x[self.outside(x)] = np.nan
        for step in self.steps:
            x = step.forward(x)
        return x

    def inverse(self, y: np.ndarray) -> np.ndarray:
        y = np.array(y, dtype=np.float64)
        for step in reversed(self.steps):
            y = step.inverse(y)
        return y

    def log_abs_det_jacobian(self, x: np.ndarray) -> np.ndarray:
        """log |det ∂forward(x)/∂x| per event (the steps are column-wise, so the Jacobian
        is diagonal): a density q(y) in the preprocessed space is q(forward(x)) times
        exp(this) in physical units. An event on a physical bound gets its nudged point's."""
        x = np.array(x, dtype=np.float64)
        total = np.zeros(len(x))
        total[self.outside(x).any(axis=1)] = np.nan
        for step in self.steps:
            total += step.log_abs_det_jacobian(x).sum(axis=1)
            x = step.forward(x)
        return total

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": self.names}
        if self.bounds is not None:
            out["bounds"] = {c: list(b) for c, b in self.bounds.items()}
        out["steps"] = [{"type": s.name, **s.params()} for s in self.steps]
        return out

    def problems(self) -> list[str]:
        """What makes the fitted parameters unusable (non-finite bounds, a zero width or
        spread, min-max bounds beyond the physical ones); empty when none."""
        found = []
        for name, (lo, hi) in (self.bounds or {}).items():
            if name not in self.names:
                found.append(f"physical bounds of {name!r}, which is not a column")
            elif lo is not None and hi is not None and not lo < hi:
                found.append(f"physical bounds of {name} [{lo}, {hi}] are empty")
        for step in self.steps:
            for key, value in step.params().items():
                if key == "margin":
                    continue
                values = np.asarray(value, dtype=np.float64)
                if values.shape != (len(self.names),):
                    found.append(f"{step.name} {key} has {values.size} values, not one per column")
                elif not np.isfinite(values).all():
                    found.append(f"{step.name} {key} {values.tolist()} is not finite")
            if isinstance(step, MinMax) and step.lo is not None and step.hi is not None:
                if np.all(np.isfinite(step.hi - step.lo)) and np.any(step.hi <= step.lo):
                    found.append(f"minmax bounds {step.lo.tolist()}..{step.hi.tolist()} are empty")
                if step is self.steps[0] and (
                    np.any(step.lo < step.physical_lo) or np.any(step.hi > step.physical_hi)
                ):
                    found.append(
                        f"minmax bounds {step.lo.tolist()}..{step.hi.tolist()} reach beyond "
                        f"the physical bounds {self.bounds}"
                    )
            if isinstance(step, Standardize) and step.std is not None:
                if np.all(np.isfinite(step.std)) and np.any(step.std <= 0):
                    found.append(f"standardize std {step.std.tolist()} is not positive")
        return [f"columns {self.names}: {p}" for p in found]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TransformChain:
        """The chain ``to_dict`` wrote; one saved before physical bounds had none."""
        steps = []
        for s in d["steps"]:
            s = dict(s)
            steps.append(STEP_TYPES[s.pop("type")](**s))
        bounds = d.get("bounds")
        if bounds is not None:
            bounds = {
                c: tuple(None if v is None else float(v) for v in b) for c, b in bounds.items()
            }
            if any(len(b) != 2 for b in bounds.values()):
                raise ValueError(f"bounds {d['bounds']} are not [lo, hi] pairs")
        return cls(d["columns"], steps, bounds)


class Preprocessor:
    """The feature chain and the (optional) context chain, saved together as JSON."""

    def __init__(self, features: TransformChain, context: TransformChain | None):
        self.features = features
        self.context = context

    def to_json(self) -> str:
        return json.dumps(
            {
                "features": self.features.to_dict(),
                "context": self.context and self.context.to_dict(),
            },
            indent=2,
        )

    def problems(self) -> list[str]:
        chains = [self.features] + ([self.context] if self.context is not None else [])
        return [p for chain in chains for p in chain.problems()]

    @classmethod
    def from_json(cls, text: str, source: str | os.PathLike | None = None) -> Preprocessor:
        """The Preprocessor saved as ``text``, validated: unreadable JSON or unusable
        parameters (NaN bounds, ...) are a GenhepError calling ``source`` (the file it
        came from) damaged."""
        where = source if source is not None else "the transform"
        try:
            d = json.loads(text)
            ctx = d.get("context")
            pre = cls(
                TransformChain.from_dict(d["features"]), ctx and TransformChain.from_dict(ctx)
            )
            problems = pre.problems()
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            reason = f"not a saved transform: {type(err).__name__}: {err}"
            raise damaged(where, " ".join(reason.split()), SPLITS_RULE) from err
        if problems:
            raise damaged(where, "; ".join(problems), SPLITS_RULE)
        return pre

    @classmethod
    def load(cls, path: str | os.PathLike) -> Preprocessor:
        path = Path(path)
        if not path.exists():
            raise GenhepError(f"{path}: transform file does not exist")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise damaged(path, f"unreadable: {err}", SPLITS_RULE) from err
        return cls.from_json(text, source=path)


def split_sizes(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """The events of each split when ``n`` are split by ``fractions``."""
    total = sum(fractions[s] for s in SPLITS)
    if not np.isclose(total, 1.0):
        raise GenhepError(
            f"config key preprocess.split: fractions must sum to 1 (they sum to {total:g})"
        )
    n_train = round(fractions["train"] * n)
    n_val = round(fractions["val"] * n)
    return {"train": n_train, "val": n_val, "test": max(n - n_train - n_val, 0)}


def classifier_events_needed(folds: int) -> int:
    """The fewest events per class the evaluation's classifier two-sample test
    (genhep.metrics.classifier_auc, ``folds``-fold) runs with.

    Stratified k-fold needs ``folds`` events per class, and deals the 2n events of both
    classes out so that no fold holds more than ceil(2n / folds). Each classifier is
    trained on the other folds, at least 2n − ceil(2n / folds) events, of which it holds
    out a stratified 10 % for early stopping: that needs two events (one per class), so the
    training folds need 11. (Checked against sklearn for folds 2, 3, 5 and 10:
    tests/test_bad_inputs.py.)
    """
    n = max(int(folds), 2)
    while 2 * n - -(-2 * n // folds) < _CLASSIFIER_MIN_TRAIN:
        n += 1
    return n


def min_test_events(folds: int | None) -> int:
    """The fewest test events the evaluation runs with: the test split is cut into a
    reference and a pool half (genhep.sample.reference_and_pool), and the classifier test
    compares ``len(pool)`` events per class (``folds`` None or 0: no classifier test; the
    metrics then need 2 events per half)."""
    per_half = classifier_events_needed(folds) if folds else 2
    return 2 * per_half


def check_split_sizes(
    counts: Mapping[str, int],
    n_events: int,
    source: str | os.PathLike,
    fractions: Mapping[str, float],
    folds: int | None = None,
    dropped: int = 0,
) -> None:
    """Every split large enough for training, validation and the evaluation, or one
    GenhepError with the counts and the config keys that set them."""
    needed = {"train": MIN_TRAIN_EVENTS, "val": MIN_VAL_EVENTS, "test": min_test_events(folds)}
    short = [s for s in SPLITS if counts[s] < needed[s]]
    if not short:
        return
    split = ", ".join(f"{s}: {fractions[s]:g}" for s in SPLITS)
    have = ", ".join(f"{s} {counts[s]}" for s in SPLITS)
    after = f" ({dropped} outside the training range dropped)" if dropped else ""
    why = (
        f"the evaluation's classifier test with evaluate.folds = {folds} needs "
        f"{needed['test'] // 2} per half of the test split"
        if folds
        else "the evaluation compares two halves of the test split"
    )
    raise GenhepError(
        f"too few events: {source} holds {n_events} events, split by preprocess.split "
        f"{{{split}}} into {have}{after}; needed at least train {needed['train']}, "
        f"val {needed['val']}, test {needed['test']} ({why}); too small: {', '.join(short)}. "
        "Give more events (toy.n_events, or more or larger input files), "
        "raise the small splits' preprocess.split fractions"
        + (" or lower evaluate.folds" if folds and "test" in short else "")
    )


def split_indices(n: int, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Disjoint index sets covering all ``n`` rows, by one seeded permutation."""
    sizes = split_sizes(n, fractions)
    perm = np.random.default_rng(seed).permutation(n)
    n_train, n_val = sizes["train"], sizes["val"]
    parts = {
        "train": perm[:n_train],
        "val": perm[n_train : n_train + n_val],
        "test": perm[n_train + n_val :],
    }
    for split, idx in parts.items():
        if len(idx) == 0:
            raise GenhepError(
                f"config key preprocess.split.{split}: the {split} split would be empty "
                f"({n} events in all)"
            )
    return {k: np.sort(v) for k, v in parts.items()}


def preprocess(
    features_path: str | os.PathLike,
    outputs: Mapping[str, str | os.PathLike],
    transform_path: str | os.PathLike,
    feature_names: Sequence[str] | None = None,
    context_name: str | None = "mjj",
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    steps: Sequence[str] = ("minmax", "logit", "standardize"),
    context_steps: Sequence[str] = ("standardize",),
    margin: float = 0.05,
    folds: int | None = None,
    bounds: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, int]]:
    """Split the feature table, fit the transforms on train, write the three splits.

    ``folds``: the evaluation's classifier k-fold (evaluate.folds; None or 0: not checked),
    for the smallest test split it runs with (:func:`check_split_sizes`). ``bounds``:
    physical ranges beyond the known features' (config key preprocess.bounds, see
    :func:`physical_bounds`). Nothing is written unless every split is large enough and
    every transform parameter finite.
    """
    fractions = fractions or {"train": 0.6, "val": 0.2, "test": 0.2}
    table, attrs = read_table(features_path, written_by=FEATURES_RULE)
    if not table or not len(next(iter(table.values()))):
        raise damaged(features_path, "it holds no events", FEATURES_RULE)
    available = [c for c in table if c not in ("label", "weight")]
    if context_name is not None and context_name not in table:
        raise GenhepError(
            f"config key preprocess.context: {features_path} has no column {context_name!r} "
            f"(has: {available})"
        )
    if feature_names is None:
        feature_names = [c for c in available if c != context_name]
    missing = [c for c in feature_names if c not in table]
    if missing:
        raise GenhepError(
            f"config key preprocess.features: {features_path} has no column(s) {missing} "
            f"(has: {available})"
        )
    if not feature_names:
        raise GenhepError("config key preprocess.features: no feature columns to model")
    check_bounds(bounds or {}, [*feature_names, *([context_name] if context_name else [])])

    x = np.column_stack([table[c] for c in feature_names]).astype(np.float64)
    c = table[context_name].astype(np.float64)[:, None] if context_name else None
    # Too few events: said before anything is fitted, with the sizes the split would have.
    check_split_sizes(split_sizes(len(x), fractions), len(x), features_path, fractions, folds)
    idx = split_indices(len(x), fractions, seed)

    chain = TransformChain.build(feature_names, steps, margin, bounds).fit(x[idx["train"]])
    ctx_chain = (
        TransformChain.build([context_name], context_steps, margin, bounds).fit(c[idx["train"]])
        if context_name
        else None
    )
    if chain.bounds and list(steps[:2]) != ["minmax", "logit"]:
        log.warning(
            "preprocess.transforms %s does not start with minmax, logit: generated events "
            "are not held inside the physical bounds %s (the evaluation counts them)",
            list(steps),
            chain.bounds,
        )
    report_bounds(chain, x, ctx_chain, c)
    pre = Preprocessor(chain, ctx_chain)
    problems = pre.problems()
    if problems:
        raise GenhepError(
            f"cannot fit the transforms on the training split of {features_path}: "
            + "; ".join(problems)
        )

    summary, parts = {}, {}
    for split in SPLITS:
        rows = idx[split]
        xs = chain.forward(x[rows])
        ok = np.isfinite(xs).all(axis=1)
        cs = None
        if ctx_chain is not None:
            cs = ctx_chain.forward(c[rows])
            ok &= np.isfinite(cs).all(axis=1)
        unphysical = chain.outside(x[rows]).any(axis=1)
        if ctx_chain is not None:
            unphysical |= ctx_chain.outside(c[rows]).any(axis=1)
        summary[split] = {
            "events": int(ok.sum()),
            "dropped_out_of_range": int((~ok).sum()),  # unphysical ones included
            "dropped_unphysical": int(unphysical.sum()),
            "nudged_off_bound": int((chain.on_bound(x[rows]).any(axis=1) & ok).sum()),
        }
        parts[split] = (rows, ok, xs, cs)
    # Events outside the training range are dropped: the splits must still be large enough.
    check_split_sizes(
        {s: summary[s]["events"] for s in SPLITS},
        len(x),
        features_path,
        fractions,
        folds,
        dropped=sum(summary[s]["dropped_out_of_range"] for s in SPLITS),
    )

    # Every output is renamed into place only when all of them are written.
    with contextlib.ExitStack() as stack:
        stack.enter_context(atomic_path(transform_path)).write_text(pre.to_json())
        for split in SPLITS:
            rows, ok, xs, cs = parts[split]
            write_split_file(
                stack.enter_context(atomic_path(outputs[split])),
                pre,
                xs[ok],
                None if cs is None else cs[ok],
                table["label"][rows][ok] if "label" in table else None,
                rows[ok],
                {
                    "split": split,
                    "fractions": dict(fractions),
                    "seed": seed,
                    **summary[split],
                    "source": str(Path(features_path).resolve()),
                    "source_events_kept": attrs.get("events_kept", len(x)),
                },
                weights=table["weight"][rows][ok] if "weight" in table else None,
            )
    return summary


def report_bounds(
    chain: TransformChain, x: np.ndarray, ctx_chain: TransformChain | None, c: np.ndarray | None
) -> None:
    """Log, per column, the events outside their physical range (dropped) and those on a
    physical bound (nudged inside), over the whole table."""
    for ch, values in ((chain, x), (ctx_chain, c)):
        if ch is None:
            continue
        outside, on_bound = ch.outside(values).sum(axis=0), ch.on_bound(values).sum(axis=0)
        for name, n_out, n_on in zip(ch.names, outside, on_bound, strict=True):
            lo, hi = ch.bounds.get(name, (None, None))
            if n_out:
                log.warning(
                    "%s: %d of %d events outside the physical range [%s, %s], dropped "
                    "(config key preprocess.bounds.%s sets the range)",
                    name,
                    n_out,
                    len(values),
                    lo,
                    hi,
                    name,
                )
            if n_on:
                log.info(
                    "%s: %d of %d events exactly on a physical bound of [%s, %s], moved "
                    "%g of the min-max width inside (finite logit)",
                    name,
                    n_on,
                    len(values),
                    lo,
                    hi,
                    BOUND_NUDGE,
                )


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
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: split file does not exist")
    if path.stat().st_size == 0:
        raise damaged(path, "empty file", SPLITS_RULE)
    try:
        with h5py.File(path, "r") as f:
            out = {k: f[k][...] for k in f}
            attrs = dict(f.attrs)
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise damaged(path, f"not a readable HDF5 file: {reason}", SPLITS_RULE) from err
    missing = [k for k in ("features", "row") if k not in out]
    missing += [f"attribute {a}" for a in ("transform",) if a not in attrs]
    if missing:
        raise damaged(path, f"not a split file: no {', '.join(missing)}", SPLITS_RULE)
    check_columns(path, out, SPLITS_RULE)
    if len(out["features"]) == 0:
        raise damaged(path, "it holds no events", SPLITS_RULE)
    transform = attrs["transform"]
    if isinstance(transform, bytes):
        transform = transform.decode()
    out["preprocessor"] = Preprocessor.from_json(str(transform), source=path)
    out["attrs"] = attrs
    return out
