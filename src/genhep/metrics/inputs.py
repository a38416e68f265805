"""Input checks shared by the metrics: samples as float64 arrays of shape (n, d)."""

from __future__ import annotations

import numpy as np


def _as_samples(x, name: str) -> np.ndarray:
    """``x`` as a float64 array of shape (n, d); a 1-D array is one column."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an array of shape (n, d), got shape {arr.shape}")
    if len(arr) < 2:
        raise ValueError(f"{name} needs at least 2 events, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr


def _as_pair(a, b, names=("truth", "gen")) -> tuple[np.ndarray, np.ndarray]:
    """Both samples as (n, d) arrays with the same number of columns d."""
    a, b = _as_samples(a, names[0]), _as_samples(b, names[1])
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[0]} and {names[1]} have different numbers of columns: "
            f"shapes {a.shape} and {b.shape}"
        )
    return a, b


def _as_1d(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sample, got shape {arr.shape}")
    return arr
