"""Physical bounds: the range each bounded column can physically take.

Each column may have a physical range (genhep.features.FEATURE_BOUNDS: masses ≥ 0,
0 ≤ τ21 ≤ 1; config key preprocess.bounds for others). The preprocessing's min-max bounds
(genhep.transforms.MinMax) are the widened training range *intersected* with it, so the
inverse (expit into (0, 1), then min-max) can only land inside the physical range: no
generated event is unphysical by construction. Two edge cases:

- an event *outside* its physical range (broken input) has no image: it is dropped from
  every split, counted (``dropped_unphysical``) and named by column in the log;
- an event *exactly on* a physical bound that is also the min-max bound (τ21 = 0 of a
  one-constituent jet, a massless jet) would be logit(0) = −∞. It is moved
  :data:`BOUND_NUDGE` of the min-max width inside (``nudged_off_bound``): 1e-4 of τ21's
  range, about 0.1 GeV for a mass, far below any resolution, and a finite logit (≈ −9.2)
  instead of a dropped event. The inverse maps it back to that nudged value.

The guarantee needs the chain to start with minmax then logit (the default). The
evaluation counts generated events outside these bounds (genhep.evaluate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genhep.errors import GenhepError

# An event exactly on a physical bound is moved this fraction of the min-max width inside:
# the logit of the bound itself is infinite (see the module docstring).
BOUND_NUDGE = 1e-4

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
