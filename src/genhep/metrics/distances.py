"""One-dimensional distances per column and the difference of correlation matrices.

* per column: 1-Wasserstein distance, Kolmogorov-Smirnov statistic and the triangular
  discrimination of histograms (the CaloChallenge "separation power");
* correlations: difference of the Pearson correlation matrices.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from genhep.metrics.inputs import _as_1d, _as_pair, _as_samples


def wasserstein_1d(a, b) -> float:
    """1-Wasserstein (earth mover's) distance of two 1-D samples.

    W1 = ∫ |F_a(x) − F_b(x)| dx, in the units of the column (scipy.stats.wasserstein_distance).
    """
    return float(stats.wasserstein_distance(_as_1d(a, "a"), _as_1d(b, "b")))


def ks_statistic(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup_x |F_a(x) − F_b(x)| (scipy.stats.ks_2samp).

    0 for identical empirical distributions, 1 for disjoint supports.
    """
    return float(stats.ks_2samp(_as_1d(a, "a"), _as_1d(b, "b")).statistic)


def _histogram_edges(a: np.ndarray, b: np.ndarray, bins, range) -> np.ndarray:
    """Bin edges: explicit edges if given, else ``bins`` equal bins over ``range`` or over the
    0.1–99.9 percentiles of the truth sample ``a``."""
    if np.ndim(bins) == 1:
        edges = np.asarray(bins, dtype=np.float64)
        if len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("bin edges must be a strictly increasing sequence of >= 2 values")
        return edges
    if range is None:
        lo, hi = np.percentile(a, [0.1, 99.9])
        if lo == hi:  # a (nearly) constant truth column: span both samples instead
            lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
        range = (lo, hi)
    # np.histogram_bin_edges widens a zero-width range to ±0.5 itself.
    return np.histogram_bin_edges(a, bins=int(bins), range=range)


def triangular_discrimination(a, b, bins=50, range=None) -> float:
    """Triangular discrimination of the histograms of two 1-D samples.

        Δ(p, q) = ½ Σ_i (p_i − q_i)² / (p_i + q_i),   summed over bins with p_i + q_i > 0,

    with both histograms normalised to unit sum: 0 for identical histograms, 1 for disjoint
    ones. This is the "separation power" of the CaloChallenge (Krause et al., arXiv:2410.21611;
    Topsøe, IEEE Trans. Inf. Theory 46 (2000) 1602 for the name).

    ``bins`` is a number of equal bins or an array of edges. By default the bins span the
    0.1–99.9 percentiles of the truth sample ``a``; events outside the bins are put into the
    first or last bin, so nothing is silently lost (a generated tail far outside the truth
    range shows up as an excess in the edge bin). Because of this, two samples with disjoint
    supports only reach exactly 1 when the bins cover both.
    """
    a, b = _as_1d(a, "a"), _as_1d(b, "b")
    edges = _histogram_edges(a, b, bins, range)
    # Clip into the outermost bins (np.histogram drops events outside [edges[0], edges[-1]]).
    p, _ = np.histogram(np.clip(a, edges[0], edges[-1]), bins=edges)
    q, _ = np.histogram(np.clip(b, edges[0], edges[-1]), bins=edges)
    p, q = p / p.sum(), q / q.sum()
    filled = (p + q) > 0
    return float(0.5 * np.sum((p[filled] - q[filled]) ** 2 / (p[filled] + q[filled])))


# ---------------------------------------------------------------------------------------------
# Correlations
# ---------------------------------------------------------------------------------------------


def correlation_matrix(x) -> np.ndarray:
    """Pearson correlation matrix C_ij = cov(x_i, x_j) / (σ_i σ_j) of the columns of ``x``.

    A constant column has no defined correlation; its off-diagonal entries are set to 0.
    """
    x = _as_samples(x, "x")
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.atleast_2d(np.corrcoef(x, rowvar=False))
    c = np.nan_to_num(c, nan=0.0)
    np.fill_diagonal(c, 1.0)
    return c


def correlation_distance(a, b) -> dict[str, float]:
    """How differently the columns of two samples are correlated, ΔC = C_a − C_b.

    Returns ``corr_max`` = max_ij |ΔC_ij| and ``corr_frobenius`` = ‖ΔC‖_F = (Σ_ij ΔC_ij²)^½
    (each off-diagonal difference counts twice, as C is symmetric).
    """
    a, b = _as_pair(a, b, ("a", "b"))
    delta = correlation_matrix(a) - correlation_matrix(b)
    return {
        "corr_max": float(np.max(np.abs(delta))),
        "corr_frobenius": float(np.linalg.norm(delta, ord="fro")),
    }
