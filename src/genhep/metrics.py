"""Evaluation metrics: how close is a generated sample to the truth?

Every generator family is scored with the same functions, truth (held-out events) against
generated events, both numpy arrays of shape (n, d) in physical units, with column names.

* one-dimensional, per column: 1-Wasserstein distance, Kolmogorov-Smirnov statistic and the
  triangular discrimination of histograms (the CaloChallenge "separation power");
* correlations: difference of the Pearson correlation matrices;
* multivariate, from JetNet (Kansal et al., "Evaluating generative models in high energy
  physics", Phys. Rev. D 107 (2023) 076017, arXiv:2211.10295): Fréchet physics distance (FPD)
  and kernel physics distance (KPD);
* a classifier two-sample test: out-of-fold ROC AUC of a classifier telling truth from generated
  (0.5: indistinguishable, 1.0: trivially separable).

:func:`compare` runs them all and returns one flat dict of floats, one leaderboard row.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import linalg, stats
from scipy.optimize import curve_fit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "classifier_auc",
    "compare",
    "correlation_distance",
    "correlation_matrix",
    "fpd",
    "frechet_distance",
    "kpd",
    "ks_statistic",
    "mmd2_unbiased",
    "triangular_discrimination",
    "wasserstein_1d",
]

CLASSIFIERS = ("gbdt", "mlp")


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# One-dimensional distances
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Fréchet and kernel physics distances (JetNet)
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Classifier two-sample test
# ---------------------------------------------------------------------------------------------


def _make_classifier(method: str, seed: int):
    if method == "gbdt":
        # Early stopping on a seeded 10 % validation split: deterministic, and it keeps the
        # trees from fitting fluctuations (which would only add noise to the out-of-fold AUC).
        return HistGradientBoostingClassifier(
            max_iter=200, early_stopping=True, validation_fraction=0.1, random_state=seed
        )
    if method == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(64, 64), early_stopping=True, max_iter=200, random_state=seed
            ),
        )
    raise ValueError(f"unknown classifier method {method!r}, expected one of {CLASSIFIERS}")


def classifier_auc(
    truth,
    gen,
    method: str = "gbdt",
    folds: int = 5,
    seed: int = 0,
    max_events: int | None = None,
) -> float:
    """Classifier two-sample test: ROC AUC of a classifier telling truth from generated events.

    Truth is labelled 1, generated 0; the classes are balanced by subsampling the larger one to
    the size of the smaller (and both to ``max_events`` if given), seeded. Stratified, shuffled
    k-fold (``folds``, seeded) scores every event with a classifier that did not see it, and
    the AUC (sklearn.metrics.roc_auc_score) is taken over all out-of-fold scores
    (Lopez-Paz & Oquab, arXiv:1610.06545; Friedman, arXiv:physics/0311034 for HEP).

    ``method``: "gbdt" (sklearn HistGradientBoostingClassifier) or "mlp" (StandardScaler +
    MLPClassifier with two hidden layers of 64). 0.5 means indistinguishable, 1.0 trivially
    separable; for two unit Gaussians shifted by δ the best possible AUC is Φ(δ/√2). With
    finite samples the AUC fluctuates around 0.5 for identical distributions and can come out
    slightly below it; it is not clipped. Two *identical arrays* (the same events in both
    classes) give an AUC well below 0.5: each test event's twin sits in the training folds
    with the other label, so out-of-fold scores are anti-correlated with the labels. Compare
    independent samples, as a held-out truth and a generator's output are.
    """
    truth, gen = _as_pair(truth, gen)
    rng = np.random.default_rng(seed)
    n = min(len(truth), len(gen))
    if max_events is not None:
        n = min(n, int(max_events))
    if n < folds:
        raise ValueError(f"need at least folds={folds} events per class, got {n}")
    # Seeded subsamples of n events per class (a permutation when nothing is dropped).
    truth = truth[np.sort(rng.choice(len(truth), size=n, replace=False))]
    gen = gen[np.sort(rng.choice(len(gen), size=n, replace=False))]

    features = np.vstack([truth, gen])
    labels = np.r_[np.ones(n), np.zeros(n)]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(
        _make_classifier(method, seed), features, labels, cv=cv, method="predict_proba"
    )[:, 1]
    return float(roc_auc_score(labels, scores))


# ---------------------------------------------------------------------------------------------
# Everything at once
# ---------------------------------------------------------------------------------------------


def compare(
    truth,
    gen,
    columns: Sequence[str],
    *,
    bins=50,
    fpd_kwargs: dict | None = None,
    kpd_kwargs: dict | None = None,
    classifiers: Sequence[str] = CLASSIFIERS,
    folds: int = 5,
    seed: int = 0,
    max_classifier_events: int | None = None,
    conditions: Sequence[str] = (),
) -> dict[str, float]:
    """All metrics of truth vs generated, as one flat dict of floats (a leaderboard row).

    Keys, in order:

    * per column ``<col>``: ``w1_<col>`` (:func:`wasserstein_1d`, in the column's units),
      ``ks_<col>`` (:func:`ks_statistic`), ``td_<col>`` (:func:`triangular_discrimination`
      with ``bins``);
    * ``w1_mean_norm``: mean over columns of W1 / σ(truth column), so columns in different units
      can be averaged (a constant truth column is divided by 1); ``ks_max``: the largest KS;
      ``td_mean``: the mean triangular discrimination. These three summarise the generated
      columns only: the ``conditions`` (the context, e.g. mjj, drawn from the same pool for
      every row) keep their per-column entries but would only dilute the averages;
    * ``corr_max``, ``corr_frobenius`` (:func:`correlation_distance`);
    * ``fpd``, ``fpd_err`` (:func:`fpd` with ``fpd_kwargs``), ``kpd``, ``kpd_err``
      (:func:`kpd` with ``kpd_kwargs``);
    * ``auc_<method>`` for each method in ``classifiers`` (:func:`classifier_auc` with
      ``folds`` and ``max_events=max_classifier_events``).

    ``seed`` seeds every random choice (classifiers, and FPD/KPD unless ``fpd_kwargs`` or
    ``kpd_kwargs`` set their own ``seed``), so the row is deterministic for a given seed.
    """
    truth, gen = _as_pair(truth, gen)
    columns = list(columns)
    if not set(columns) - set(conditions):
        raise ValueError(f"every column {columns} is a condition: nothing generated to compare")
    if len(columns) != truth.shape[1]:
        raise ValueError(
            f"{len(columns)} column names {columns} for samples of shapes "
            f"{truth.shape} and {gen.shape}"
        )

    row: dict[str, float] = {}
    w1_norm, ks, td = [], [], []
    for j, col in enumerate(columns):
        a, b = truth[:, j], gen[:, j]
        row[f"w1_{col}"] = wasserstein_1d(a, b)
        row[f"ks_{col}"] = ks_statistic(a, b)
        row[f"td_{col}"] = triangular_discrimination(a, b, bins=bins)
        if col in conditions:
            continue
        sigma = a.std()
        w1_norm.append(row[f"w1_{col}"] / (sigma if sigma > 0 else 1.0))
        ks.append(row[f"ks_{col}"])
        td.append(row[f"td_{col}"])
    row["w1_mean_norm"] = float(np.mean(w1_norm))
    row["ks_max"] = float(np.max(ks))
    row["td_mean"] = float(np.mean(td))

    row.update(correlation_distance(truth, gen))
    row["fpd"], row["fpd_err"] = fpd(truth, gen, **{"seed": seed, **(fpd_kwargs or {})})
    row["kpd"], row["kpd_err"] = kpd(truth, gen, **{"seed": seed, **(kpd_kwargs or {})})
    for method in classifiers:
        row[f"auc_{method}"] = classifier_auc(
            truth, gen, method=method, folds=folds, seed=seed, max_events=max_classifier_events
        )
    return row
