"""The invertible, column-wise transforms fitted by preprocessing.

Pure numpy: the transforms map between physical units and the space the models are
trained in; nothing here reads or writes a file but the transform's own JSON
(:meth:`Preprocessor.to_json`, :meth:`Preprocessor.load`).

The default chain is CATHODE's: min-max scaling into (0, 1), the logit, then
standardization. Each step is fitted on the output of the previous one, on the training
split only, and the whole chain is saved as JSON so any sample can be mapped back to
physical units with :meth:`TransformChain.inverse`.

Min-max bounds are widened by a margin on each side, so that the logit of every training
event is finite; validation/test events outside the widened bounds have no image under
the logit and are dropped, counted per split.

A leading min-max step keeps inside each column's physical range (genhep.bounds: the
min-max bounds are intersected with it, an event exactly on it is nudged inside), so no
generated event is unphysical; this needs the chain to start with minmax then logit (the
default). The Jacobian of the chain (:meth:`TransformChain.log_abs_det_jacobian`) turns a
density in the preprocessed space into one in physical units (genhep.evaluate).

A saved transform is validated as it is read (:meth:`Preprocessor.load`: finite
parameters); a damaged one is named with how to regenerate it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit, logit

from genhep.bounds import BOUND_NUDGE, Bounds, physical_bounds
from genhep.errors import GenhepError
from genhep.io.hdf5 import damaged

# The rule that writes the transform (and the splits): named in "rerun with -R <rule>".
SPLITS_RULE = "preprocess"


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
        return cls.from_json(read_saved(path, SPLITS_RULE), source=Path(path))


def read_saved(path: str | os.PathLike, written_by: str, what: str = "transform file") -> str:
    """The text of a saved transform file; a missing or unreadable one is a GenhepError
    that names it (and, damaged, the rule that writes it)."""
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: {what} does not exist")
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise damaged(path, f"unreadable: {err}", written_by) from err
