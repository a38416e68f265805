"""Fréchet and kernel physics distances (FPD, KPD) and the unbiased MMD², as JetNet computes
them (Kansal et al., "Evaluating generative models in high energy physics", Phys. Rev. D
107 (2023) 076017, arXiv:2211.10295)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg, stats
from scipy.optimize import curve_fit

from genhep.metrics.inputs import _as_pair


def _normalise_features(real: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide both samples by the per-feature max |value| of the *real* sample, as JetNet's
    ``_normalise_features`` does; all-zero features are left as they are."""
    maxes = np.max(np.abs(real), axis=0)
    maxes[maxes == 0] = 1.0
    return real / maxes, gen / maxes


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet (2-Wasserstein²) distance between N(μ1, Σ1) and N(μ2, Σ2):

        FD = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)

    (Dowson & Landau, J. Multivar. Anal. 12 (1982) 450). As in pytorch-fid and JetNet, a
    non-finite matrix square root is retried with ε added to the diagonals.

    For covariance matrices (symmetric, positive semi-definite) Σ1 Σ2 has no negative
    eigenvalues, so (Σ1 Σ2)^½ is real up to rounding: that small imaginary part is dropped.
    A large one means the inputs are not covariance matrices and the distance is not
    defined, so it raises a ValueError, as JetNet's ``_calculate_frechet_distance`` does
    (JetNet 0.2: |Im| ≤ 1e-3 on the diagonal). The tolerance here is 1e-3 times the
    largest real diagonal entry when that is above 1, so that valid covariances in large
    units (e.g. GeV², where rounding alone gives |Im| ~ 1e-2) are not rejected.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # nearly singular product
        offset = eps * np.eye(len(sigma1))
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.isfinite(covmean).all():
        raise ValueError(
            "Fréchet distance: the matrix square root of Σ1·Σ2 is not finite, even with "
            f"{eps} added to the diagonals (NaN or inf in Σ1 or Σ2, or an overflow)"
        )
    if np.iscomplexobj(covmean):
        imaginary = float(np.max(np.abs(np.diagonal(covmean).imag)))
        tolerance = 1e-3 * max(1.0, float(np.max(np.abs(np.diagonal(covmean).real))))
        if imaginary > tolerance:
            raise ValueError(
                "Fréchet distance: the matrix square root of Σ1·Σ2 has an imaginary part of "
                f"up to {imaginary:.3g} on its diagonal (tolerance {tolerance:.3g}): Σ1·Σ2 "
                "has negative eigenvalues, so Σ1 and Σ2 are not both covariance matrices "
                "(symmetric, positive semi-definite)"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def _linear(x, intercept, slope):
    return intercept + slope * x


def fpd(
    real,
    gen,
    min_samples: int = 20_000,
    max_samples: int = 50_000,
    num_batches: int = 20,
    num_points: int = 10,
    normalise: bool = True,
    seed: int = 42,
) -> tuple[float, float]:
    """Fréchet physics distance (FPD) and its error, as ``jetnet.evaluation.fpd`` computes it
    (Kansal et al., arXiv:2211.10295; after Chong & Forsyth's FID∞, arXiv:1911.07023).

    The Fréchet distance (:func:`frechet_distance`) between Gaussians fitted to batches of the
    two samples is biased upwards by O(1/N) at batch size N. So, following JetNet:

    * ``num_points`` batch sizes N, at regular intervals in 1/N between 1/min_samples and
      1/max_samples (JetNet spaces them in 1/N, not in N);
    * at each N, the mean FD over ``num_batches`` pairs of batches drawn with replacement
      (one ``np.random.default_rng(seed)`` for all draws, real batch then generated batch);
    * a least-squares line FD = FD∞ + slope / N, with FD∞ ≥ 0 and slope ≥ 0 as in JetNet
      (scipy.optimize.curve_fit); the value is the intercept FD∞, the error its standard error
      from the fit covariance.

    With ``normalise`` both samples are first divided by the per-feature max |value| of the
    real sample (JetNet's ``_normalise_features``), so features of different units count alike.

    Departure from JetNet, for small samples: if either sample has fewer than ``max_samples``
    events, the whole range of batch sizes is scaled down by n / max_samples (n: the smaller
    sample size), so the largest batch is n and the ratio min/max, hence the lever arm of the
    1/N extrapolation, is kept (clipping at n alone would collapse every batch size to n for
    n < min_samples). A RuntimeWarning says so. Note that batches drawn from finite samples
    extrapolate to the distance between the two *empirical* distributions, which is itself
    positive, O(d² / n) in units of the feature variances, for identical parents.
    """
    real, gen = _as_pair(real, gen, ("real", "gen"))
    if not 2 <= min_samples <= max_samples:
        raise ValueError(f"need 2 <= min_samples <= max_samples, got {min_samples}, {max_samples}")
    n = min(len(real), len(gen))
    if n < max_samples:
        scale = n / max_samples
        warnings.warn(
            f"FPD: samples of {len(real)} and {len(gen)} events are smaller than max_samples="
            f"{max_samples}; batch sizes scaled by {scale:.3g} to "
            f"{max(2, int(min_samples * scale))}-{n}",
            RuntimeWarning,
            stacklevel=2,
        )
        min_samples, max_samples = max(2, int(min_samples * scale)), n
    if normalise:
        real, gen = _normalise_features(real, gen)

    # Regular intervals in 1/N, as JetNet.
    batch_sizes = (1 / np.linspace(1 / min_samples, 1 / max_samples, num_points)).astype(int)
    rng = np.random.default_rng(seed)
    mean_fd = []
    for size in batch_sizes:
        values = []
        for _ in range(num_batches):
            x = real[rng.choice(len(real), size=size)]
            y = gen[rng.choice(len(gen), size=size)]
            values.append(
                frechet_distance(
                    x.mean(axis=0), np.cov(x, rowvar=False), y.mean(axis=0), np.cov(y, rowvar=False)
                )
            )
        mean_fd.append(np.mean(values))

    params, cov = curve_fit(_linear, 1 / batch_sizes, mean_fd, bounds=([0, 0], [np.inf, np.inf]))
    return float(params[0]), float(np.sqrt(cov[0, 0]))


def _kernel_sum(x: np.ndarray, y: np.ndarray, degree: int, chunk: int = 1024) -> float:
    """Σ_ij k(x_i, y_j) for the kernel k(x, y) = (x·y / d + 1)^degree, summed over row chunks
    so the full n×m kernel matrix is never held in memory (in place, which is about twice as
    fast as sklearn.metrics.pairwise.polynomial_kernel, the same kernel)."""
    gamma = 1.0 / x.shape[1]
    total = 0.0
    for i in range(0, len(x), chunk):
        k = x[i : i + chunk] @ y.T
        k *= gamma
        k += 1.0
        k **= degree
        total += k.sum()
    return float(total)


def mmd2_unbiased(x, y, degree: int = 4) -> float:
    """Unbiased estimate (a U-statistic) of the squared maximum mean discrepancy,

        MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (n(n−1))
                 − 2 Σ_ij k(x_i, y_j) / (mn),

    with the polynomial kernel k(x, y) = (x·y / d + 1)^degree, d the number of features
    (Gretton et al., JMLR 13 (2012) 723, eq. 3; the kernel of KID, Bińkowski et al.,
    arXiv:1801.01401, and of JetNet's KPD). Leaving out the i = j terms removes the +O(1/m)
    bias of the V-statistic, so the estimate averages to 0 for identical distributions and
    can be negative.
    """
    x, y = _as_pair(x, y, ("x", "y"))
    m, n = len(x), len(y)
    # Diagonal terms k(x_i, x_i) = (‖x_i‖² / d + 1)^degree, subtracted from the full sums.
    d = x.shape[1]
    diag_x = np.sum((np.sum(x * x, axis=1) / d + 1.0) ** degree)
    diag_y = np.sum((np.sum(y * y, axis=1) / d + 1.0) ** degree)
    kxx = (_kernel_sum(x, x, degree) - diag_x) / (m * (m - 1))
    kyy = (_kernel_sum(y, y, degree) - diag_y) / (n * (n - 1))
    kxy = _kernel_sum(x, y, degree) / (m * n)
    return float(kxx + kyy - 2.0 * kxy)


def _kpd_batch_values(real, gen, num_batches, batch_size, seed) -> np.ndarray:
    """MMD²_u of ``num_batches`` pairs of batches; batch i is drawn with replacement by
    ``np.random.default_rng(seed + 1000 i)``, real then generated, as in JetNet."""
    values = []
    for i in range(num_batches):
        rng = np.random.default_rng(seed + i * 1000)
        x = real[rng.choice(len(real), size=batch_size)]
        y = gen[rng.choice(len(gen), size=batch_size)]
        values.append(mmd2_unbiased(x, y, degree=4))
    return np.asarray(values)


def kpd(
    real,
    gen,
    num_batches: int = 10,
    batch_size: int = 5000,
    normalise: bool = True,
    seed: int = 42,
) -> tuple[float, float]:
    """Kernel physics distance (KPD): median and error, as ``jetnet.evaluation.kpd`` computes
    them (Kansal et al., arXiv:2211.10295).

    :func:`mmd2_unbiased` with the kernel (x·y / d + 1)^4 on ``num_batches`` pairs of batches
    of ``batch_size`` events drawn with replacement (batch i seeded with seed + 1000 i), after
    JetNet's normalisation (divide by the real sample's per-feature max |value|) if
    ``normalise``. As in JetNet, the value is the median over batches and the error is half
    the spread between the 16.275th and 83.725th percentiles of the batch values
    (scipy.stats.iqr(rng=(16.275, 83.725)) / 2) — about one standard deviation of a single
    batch's value, not the error of the median.

    ``batch_size`` is capped at the smaller sample size (JetNet would draw the larger batch
    with replacement), with a RuntimeWarning.
    """
    real, gen = _as_pair(real, gen, ("real", "gen"))
    n = min(len(real), len(gen))
    if batch_size > n:
        warnings.warn(
            f"KPD: batch_size={batch_size} capped at the sample size {n}",
            RuntimeWarning,
            stacklevel=2,
        )
        batch_size = n
    if normalise:
        real, gen = _normalise_features(real, gen)
    values = _kpd_batch_values(real, gen, num_batches, batch_size, seed)
    return float(np.median(values)), float(stats.iqr(values, rng=(16.275, 83.725)) / 2)
