"""The science of the amplification study: the truth, the metric and the reference fit.

The truth is the 1-D camel back

    p(x) = ½ N(x; −4, 1) + ½ N(x; 4, 1).

Quality is the *quantile MSE*: cut the line into Q bins of equal true probability
(edges = the true quantiles F⁻¹(j/Q)); for a sample of size N with a fraction f_j of its
points in bin j,

    MSE = (1/Q) Σ_j (f_j − 1/Q)².

For a sample of the truth itself the counts are multinomial, Var f_j = (1/Q)(1 − 1/Q)/N, so

    E[MSE_true(N)] = (Q − 1) / (Q² N),

and a sample with quantile MSE m is worth as many true points as give that MSE on average,
N_equiv = (Q − 1) / (Q² m). The *amplification* of a generator is N_equiv of its largest
generated sample (where its MSE has reached the plateau set by the model's own error) over
the training size: > 1 means the generated sample is worth more than the training points.
As references: the training sample itself (amplification ≈ 1 by construction) and a
5-parameter maximum-likelihood fit of two Gaussians, a "generator" of the right form.

Per-seed amplifications are skewed (N Q² MSE of a true sample is χ² with Q − 1 degrees of
freedom), so summaries are the median and the 16-84 % quantiles over seeds (``spread``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm
from sklearn.mixture import GaussianMixture

from genhep.errors import GenhepError

CAMEL_MEANS = (-4.0, 4.0)
CAMEL_SIGMA = 1.0


# --- the truth ---------------------------------------------------------------------------


def camel_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    """n points of ½ N(−4, 1) + ½ N(4, 1), shape (n,)."""
    means = np.where(rng.random(n) < 0.5, *CAMEL_MEANS)
    return rng.normal(means, CAMEL_SIGMA)


def camel_cdf(x: np.ndarray | float) -> np.ndarray | float:
    """F(x) = ½ Φ(x + 4) + ½ Φ(x − 4)."""
    return 0.5 * sum(norm.cdf(x, loc=m, scale=CAMEL_SIGMA) for m in CAMEL_MEANS)


def camel_quantile_edges(q: int) -> np.ndarray:
    """The q + 1 edges of q equal-probability bins of the truth: −∞, F⁻¹(1/q), ..., +∞."""
    if q < 2:
        raise GenhepError(f"quantiles must be at least 2, not {q}")
    inner = [brentq(lambda x, p=j / q: camel_cdf(x) - p, -30, 30, xtol=1e-12) for j in range(1, q)]
    return np.array([-np.inf, *inner, np.inf])


# --- the metric --------------------------------------------------------------------------


def quantile_fractions(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fraction f_j of the points in each bin."""
    idx = np.searchsorted(edges[1:-1], np.asarray(x).ravel(), side="right")
    return np.bincount(idx, minlength=len(edges) - 1) / max(len(idx), 1)


def quantile_mse(x: np.ndarray, edges: np.ndarray) -> float:
    """(1/Q) Σ_j (f_j − 1/Q)², the quantile MSE of sample x for the given Q + 1 edges."""
    q = len(edges) - 1
    return float(np.mean((quantile_fractions(x, edges) - 1.0 / q) ** 2))


def quantile_mse_curve(x: np.ndarray, edges: np.ndarray, sizes: Sequence[int]) -> list[float]:
    """The quantile MSE of the first N points of x, for each N in sizes (nested samples)."""
    return [quantile_mse(x[:n], edges) for n in sizes]


def expected_true_mse(n: int | np.ndarray, q: int) -> float | np.ndarray:
    """E[MSE] of n points of the truth: (1/Q) Σ_j Var f_j = (Q − 1) / (Q² n)."""
    return (q - 1) / (q**2 * np.asarray(n, dtype=float))


def equivalent_true_size(mse: float, q: int) -> float:
    """The number of true points whose expected quantile MSE is ``mse``: (Q − 1) / (Q² mse)."""
    return math.inf if mse <= 0 else (q - 1) / (q**2 * mse)


def amplification_factor(mse: float, q: int, n_train: int) -> float:
    """N_equiv(mse) / n_train: > 1 when a sample is worth more than the training points."""
    return equivalent_true_size(mse, q) / n_train


def spread(values: Sequence[float]) -> dict[str, float]:
    """The median and the 16 % and 84 % quantiles of per-seed values (they are skewed)."""
    v = np.asarray(values, dtype=float)
    q16, q50, q84 = np.quantile(v, [0.16, 0.5, 0.84])
    return {"median": float(q50), "q16": float(q16), "q84": float(q84)}


# --- the 5-parameter reference fit ---------------------------------------------------------


@dataclass(frozen=True)
class TwoGaussians:
    """w N(μ1, σ1²) + (1 − w) N(μ2, σ2²): five free parameters, μ1 ≤ μ2."""

    weight: float
    mu1: float
    sigma1: float
    mu2: float
    sigma2: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        first = rng.random(n) < self.weight
        return np.where(
            first, rng.normal(self.mu1, self.sigma1, n), rng.normal(self.mu2, self.sigma2, n)
        )


def fit_two_gaussians(x: np.ndarray, seed: int = 0) -> TwoGaussians:
    """Maximum-likelihood fit of two Gaussians (EM of a 2-component 1-D mixture)."""
    gm = GaussianMixture(2, n_init=3, random_state=seed).fit(np.asarray(x).reshape(-1, 1))
    order = np.argsort(gm.means_.ravel())
    mu = gm.means_.ravel()[order]
    sigma = np.sqrt(gm.covariances_.ravel()[order])
    w = gm.weights_[order]
    return TwoGaussians(float(w[0]), float(mu[0]), float(sigma[0]), float(mu[1]), float(sigma[1]))
