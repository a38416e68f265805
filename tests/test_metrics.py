"""Evaluation metrics against known answers.

Every test compares with an analytic value and a tolerance set from the statistical spread of
the sample sizes used; all samples are seeded, so the tests are deterministic.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import linalg
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from genhep import metrics


@pytest.fixture(autouse=True, scope="module")
def single_threaded():
    """One OpenMP/BLAS thread: these problems are small, and on a loaded 2-core machine the
    spinning worker threads of sklearn's tree and MLP fits slowed them down a hundredfold."""
    with threadpool_limits(limits=1):
        yield


def gaussians(n, mean, cov, seed):
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


# --- one-dimensional distances ------------------------------------------------------------------


def test_wasserstein_of_shifted_gaussians_is_the_shift():
    # W1 of two distributions differing only by a shift δ is |δ|; the sampling spread of W1
    # at 200k events each is ~ 1/sqrt(n) ~ 2e-3, so 1e-2 is a 4σ+ margin.
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 200_000), rng.normal(0.7, 1.0, 200_000)
    assert metrics.wasserstein_1d(a, b) == pytest.approx(0.7, abs=1e-2)


def test_ks_statistic_same_and_disjoint():
    rng = np.random.default_rng(1)
    # Same distribution: KS ~ sqrt(2/n) * K with K the Kolmogorov variable (median 0.83), so
    # ~ 0.005 at 50k each; its 99.99th percentile is ~ 0.012, below 0.02.
    assert metrics.ks_statistic(rng.normal(size=50_000), rng.normal(size=50_000)) < 0.02
    assert metrics.ks_statistic(rng.uniform(0, 1, 1000), rng.uniform(2, 3, 1000)) == 1.0


def test_triangular_discrimination_limits_and_symmetry():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=20_000), rng.normal(0.3, 1.2, 20_000)
    assert metrics.triangular_discrimination(a, a) == 0.0
    # Disjoint supports: 1 exactly when the bins cover both samples.
    u, v = rng.uniform(0, 1, 5000), rng.uniform(2, 3, 5000)
    assert metrics.triangular_discrimination(u, v, range=(0, 3)) == pytest.approx(1.0, abs=1e-12)
    # With the default bins (truth percentiles), v piles into the last bin, which also holds
    # ~1/50 of u: ½[(1 − p) + (1 − p)²/(1 + p)] ≈ 0.96 for p ≈ 0.02; still near 1.
    assert metrics.triangular_discrimination(u, v) > 0.9
    # Symmetric for a fixed binning (the default binning follows the first argument).
    edges = np.linspace(-5, 5, 41)
    assert metrics.triangular_discrimination(a, b, bins=edges) == pytest.approx(
        metrics.triangular_discrimination(b, a, bins=edges), rel=1e-12
    )
    assert 0.0 < metrics.triangular_discrimination(a, b) < 1.0


def test_triangular_discrimination_keeps_events_outside_the_range():
    # A generated tail far outside the truth range must count, in the edge bin.
    rng = np.random.default_rng(3)
    a = rng.normal(size=10_000)
    b = np.concatenate([a[:9000], np.full(1000, 50.0)])
    assert metrics.triangular_discrimination(a, b) > 0.03


# --- correlations -------------------------------------------------------------------------------


def test_correlation_distance_of_known_correlations():
    # ρ = 0 vs 0.5: ΔC has ±0.5 off the diagonal, so max 0.5 and Frobenius 0.5·√2. The
    # sample correlation's spread is (1 − ρ²)/√n < 0.01 at 20k events: 0.02 is > 2σ on each.
    a = gaussians(20_000, [0, 0], [[1, 0], [0, 1]], seed=4)
    b = gaussians(20_000, [0, 0], [[1, 0.5], [0.5, 1]], seed=5)
    d = metrics.correlation_distance(a, b)
    assert d["corr_max"] == pytest.approx(0.5, abs=0.02)
    assert d["corr_frobenius"] == pytest.approx(0.5 * np.sqrt(2), abs=0.03)
    np.testing.assert_allclose(np.diag(metrics.correlation_matrix(a)), 1.0)


# --- classifier two-sample test ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gbdt", "mlp"])
def test_classifier_auc_same_and_disjoint(method):
    # Identical distributions: the AUC of 2×3000 out-of-fold scores has a spread of
    # ~ sqrt((n1 + n2 + 1) / (12 n1 n2)) ≈ 0.0075 (Mann-Whitney), so 0.03 is a 4σ margin.
    same_a = gaussians(3000, [0, 0], np.eye(2), seed=6)
    same_b = gaussians(3000, [0, 0], np.eye(2), seed=7)
    assert metrics.classifier_auc(same_a, same_b, method=method) == pytest.approx(0.5, abs=0.03)
    disjoint = same_b + np.array([20.0, 0.0])
    assert metrics.classifier_auc(same_a, disjoint, method=method, folds=3) > 0.99


@pytest.mark.parametrize("method", ["gbdt", "mlp"])
def test_classifier_auc_of_shifted_gaussians_is_analytic(method):
    # For N(0, 1) vs N(δ, 1) the Bayes-optimal AUC is P(X > Y) = Φ(δ/√2) = 0.760 at δ = 1;
    # the AUC's sampling spread at 5k per class is ~ 0.006, so 0.02 is ~ 3σ.
    rng = np.random.default_rng(8)
    truth, gen = rng.normal(1.0, 1.0, (5000, 1)), rng.normal(0.0, 1.0, (5000, 1))
    expected = norm.cdf(1.0 / np.sqrt(2))
    assert metrics.classifier_auc(truth, gen, method=method) == pytest.approx(expected, abs=0.02)


def test_classifier_auc_balances_and_caps_classes():
    rng = np.random.default_rng(9)
    truth, gen = rng.normal(size=(4000, 2)), rng.normal(size=(1500, 2))
    auc = metrics.classifier_auc(truth, gen, max_events=1000, folds=3)
    assert auc == pytest.approx(0.5, abs=0.05)  # spread ~ 0.013 at 1000 per class
    assert auc == metrics.classifier_auc(truth, gen, max_events=1000, folds=3)  # deterministic


# --- FPD and KPD --------------------------------------------------------------------------------


def test_fpd_of_identical_distributions_is_near_zero():
    a = gaussians(50_000, np.zeros(3), np.eye(3), seed=10)
    b = gaussians(50_000, np.zeros(3), np.eye(3), seed=11)
    value, err = metrics.fpd(a, b)
    # Batches drawn from two finite samples extrapolate to the FD of the two empirical
    # distributions, O(d²σ²/n) ~ 5e-5 here (normalised units, σ ≈ 1/4.5); a 0.1σ shift of
    # one mean would already give (0.1/4.5)² ≈ 5e-4.
    assert 0.0 <= value < 2e-4
    assert 0.0 < err < 1e-4
    shifted, _ = metrics.fpd(a, b + np.array([0.1, 0.0, 0.0]))
    assert shifted > 5 * value


def test_fpd_matches_the_analytic_frechet_distance():
    mu1, mu2 = np.zeros(3), np.array([0.5, -0.3, 0.2])
    s1 = np.eye(3)
    s2 = np.array([[1.5, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.7]])
    expected = mu2 @ mu2 + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)  # 0.675
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)
    # Sampling: the FD of the fitted Gaussians fluctuates by ~ 2|Δμ|·sqrt(2/n) ≈ 0.005 (1 %)
    # at 50k events, measured 1-2.5 % over seeds; 5 % tolerance.
    a, b = gaussians(50_000, mu1, s1, seed=12), gaussians(50_000, mu2, s2, seed=13)
    value, err = metrics.fpd(a, b, normalise=False)
    assert value == pytest.approx(expected, rel=0.05)
    assert 0.0 < err < 0.02


def test_frechet_distance_raises_on_a_large_imaginary_part():
    # A "covariance" with a correlation of 2 has eigenvalues 3 and -1, so the root of
    # Σ1·Σ2 = Σ2 has an imaginary part of 0.5 on its diagonal. Dropping it silently gave
    # FD = 4 - 2·√3 ≈ 0.54 for a distance that is not defined.
    s1, s2 = np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])
    assert np.abs(np.diagonal(linalg.sqrtm(s1 @ s2)).imag).max() == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"imaginary part of up to 0\.5 .* not both covariance"):
        metrics.frechet_distance(np.zeros(2), s1, np.zeros(2), s2)
    # A NaN in a covariance used to come out as FD = NaN; the ε retry cannot help it.
    with pytest.raises(ValueError, match="not finite"):
        metrics.frechet_distance(np.zeros(2), s1, np.zeros(2), np.diag([np.nan, 1.0]))


def test_frechet_distance_drops_rounding_level_imaginary_parts_in_large_units():
    # GeV²-sized covariances with one degenerate direction: the product has an eigenvalue
    # -1e-4 next to 1e12 (relative 1e-16, rounding), whose root i·1e-2 is above JetNet's
    # absolute 1e-3 but negligible against the diagonal. Tr Σ1 + Tr Σ2 = 2 Tr √(Σ1 Σ2), so
    # FD = ‖Δμ‖² = 25.
    s1, s2 = np.diag([1e6, 4e5, 1e-2]), np.diag([1e6, 4e5, -1e-2])
    assert np.abs(np.diagonal(linalg.sqrtm(s1 @ s2)).imag).max() == pytest.approx(1e-2)
    mu2 = np.array([3.0, 0.0, 4.0])
    assert metrics.frechet_distance(np.zeros(3), s1, mu2, s2) == pytest.approx(25.0, abs=1e-6)


def test_fpd_small_samples_scale_the_batch_sizes():
    a = gaussians(3000, np.zeros(2), np.eye(2), seed=14)
    b = gaussians(2000, np.ones(2), np.eye(2), seed=15)
    with pytest.warns(RuntimeWarning, match="batch sizes scaled"):
        value, err = metrics.fpd(a, b, normalise=False)
    assert value == pytest.approx(2.0, rel=0.1)  # ‖Δμ‖² = 2, equal covariances
    assert np.isfinite(err)


def test_mmd2_unbiased_matches_the_brute_force_u_statistic():
    from sklearn.metrics.pairwise import polynomial_kernel

    rng = np.random.default_rng(16)
    x, y = rng.normal(size=(300, 3)), rng.normal(0.2, 1.0, (200, 3))

    def k(u, v):
        return polynomial_kernel(u, v, degree=4, gamma=1 / 3, coef0=1)

    kxx, kyy = k(x, x), k(y, y)
    expected = (
        (kxx.sum() - np.trace(kxx)) / (300 * 299)
        + (kyy.sum() - np.trace(kyy)) / (200 * 199)
        - 2 * k(x, y).mean()
    )
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-10)


def test_mmd2_is_unbiased_for_identical_distributions():
    # Fresh independent batches of one distribution: the U-statistic averages to 0, while the
    # V-statistic (keeping the i = j terms) is biased upwards by ~ 2 (E k(x,x) − E k(x,x')) / m,
    # which this many batches resolve: the test has the power to catch a biased estimator.
    from sklearn.metrics.pairwise import polynomial_kernel

    def v_statistic(x, y):
        def k(u, v):
            return polynomial_kernel(u, v, degree=4, gamma=1 / 3, coef0=1).mean()

        return k(x, x) + k(y, y) - 2 * k(x, y)

    rng = np.random.default_rng(17)
    u_values, v_values = [], []
    for _ in range(40):
        x, y = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
        u_values.append(metrics.mmd2_unbiased(x, y))
        v_values.append(v_statistic(x, y))
    sigma_u = np.std(u_values, ddof=1) / np.sqrt(len(u_values))
    sigma_v = np.std(v_values, ddof=1) / np.sqrt(len(v_values))
    assert abs(np.mean(u_values)) < 3 * sigma_u
    assert np.mean(v_values) > 10 * sigma_v


def test_kpd_same_and_shifted():
    a = gaussians(20_000, np.zeros(3), np.eye(3), seed=18)
    b = gaussians(20_000, np.zeros(3), np.eye(3), seed=19)
    value, err = metrics.kpd(a, b, batch_size=2000)
    assert err > 0
    assert abs(value) < 3 * err  # the error is the spread of one batch's value
    shifted, err_shifted = metrics.kpd(a, b + np.array([0.3, 0.0, 0.0]), batch_size=2000)
    assert shifted > 5 * err_shifted
    assert shifted > 10 * abs(value)


# --- compare ------------------------------------------------------------------------------------

COLUMNS = ["mjj", "mj_min", "tau21_min"]


def physics_like(n, seed):
    rng = np.random.default_rng(seed)
    mjj = rng.gamma(20.0, 0.15, n)  # TeV
    mj = rng.exponential(0.1, n) + 0.02 * mjj
    tau = rng.beta(4, 3, n)
    return np.column_stack([mjj, mj, tau])


def expected_keys(columns, classifiers=("gbdt", "mlp")):
    per_column = [f"{m}_{c}" for c in columns for m in ("w1", "ks", "td")]
    aggregates = ["w1_mean_norm", "ks_max", "td_mean", "corr_max", "corr_frobenius"]
    multivariate = ["fpd", "fpd_err", "kpd", "kpd_err"]
    return per_column + aggregates + multivariate + [f"auc_{m}" for m in classifiers]


@pytest.fixture(scope="module")
def compared():
    truth, gen = physics_like(3000, 20), physics_like(3000, 21)
    kwargs = dict(kpd_kwargs={"batch_size": 1000}, folds=3, max_classifier_events=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # small samples: FPD batches scaled
        return (
            metrics.compare(truth, gen, COLUMNS, **kwargs),
            metrics.compare(truth, gen, COLUMNS, **kwargs),
        )


def test_compare_returns_every_key_finite(compared):
    row, again = compared
    assert list(row) == expected_keys(COLUMNS)
    assert all(isinstance(v, float) and np.isfinite(v) for v in row.values())
    assert row == again  # deterministic for a given seed
    # Same distribution: the classifiers cannot tell (spread ~ 0.009 at 2000 per class).
    assert row["auc_gbdt"] == pytest.approx(0.5, abs=0.04)
    assert row["auc_mlp"] == pytest.approx(0.5, abs=0.04)


def test_compare_of_identical_inputs():
    x = physics_like(2000, 22)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        row = metrics.compare(
            x, x, COLUMNS, kpd_kwargs={"batch_size": 500}, classifiers=("gbdt",), folds=3
        )
    assert list(row) == expected_keys(COLUMNS, ("gbdt",))
    for col in COLUMNS:
        assert row[f"w1_{col}"] == row[f"ks_{col}"] == row[f"td_{col}"] == 0.0
    assert row["corr_max"] == pytest.approx(0.0, abs=1e-12)
    # Identical events cannot be told apart, so the AUC is not above chance. It comes out well
    # *below* 0.5 (0.28 here): each test event's twin is in the training folds with the other
    # label, so out-of-fold scores anti-correlate with the labels (see classifier_auc).
    # Independent samples of one distribution give 0.5 (test_compare_returns_every_key_finite).
    assert row["auc_gbdt"] < 0.5


def test_conditions_keep_their_columns_but_leave_the_averages():
    """mjj is the condition, drawn from the same pool for truth and generated: averaging its
    W1 of ~0 in would make every family look better than it is."""
    truth, gen = physics_like(2000, 30), physics_like(2000, 31)
    gen[:, 0] = truth[:, 0]  # the context: identical by construction
    gen[:, 1] *= 1.5  # a generated column that is off
    kwargs = dict(kpd_kwargs={"batch_size": 500}, classifiers=(), folds=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = metrics.compare(truth, gen, COLUMNS, **kwargs)
        conditioned = metrics.compare(truth, gen, COLUMNS, conditions=("mjj",), **kwargs)
    assert plain["w1_mjj"] == conditioned["w1_mjj"] == 0.0  # still reported per column
    generated = [plain[f"w1_{c}"] / truth[:, j].std() for j, c in enumerate(COLUMNS) if c != "mjj"]
    assert conditioned["w1_mean_norm"] == pytest.approx(np.mean(generated), rel=1e-12)
    assert plain["w1_mean_norm"] == pytest.approx(np.mean(generated) * 2 / 3, rel=1e-12)
    td = [plain[f"td_{c}"] for c in COLUMNS if c != "mjj"]
    assert conditioned["td_mean"] == pytest.approx(np.mean(td), rel=1e-12)
    with pytest.raises(ValueError, match="every column"):
        metrics.compare(truth[:, :1], gen[:, :1], ["mjj"], conditions=("mjj",))


# --- bad input ----------------------------------------------------------------------------------


def test_mismatched_columns_raise_naming_the_shapes():
    a, b = np.zeros((100, 3)), np.zeros((100, 2))
    with pytest.raises(ValueError, match=r"\(100, 3\).*\(100, 2\)"):
        metrics.compare(a, b, COLUMNS)
    with pytest.raises(ValueError, match=r"\(100, 3\).*\(100, 2\)"):
        metrics.fpd(a, b)
    with pytest.raises(ValueError, match=r"3 column names.*\(100, 2\)"):
        metrics.compare(b, b, COLUMNS)


def test_non_finite_input_and_unknown_classifier_raise():
    a = np.ones((100, 2))
    bad = a.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        metrics.correlation_distance(a, bad)
    with pytest.raises(ValueError, match="unknown classifier"):
        metrics.classifier_auc(a, a, method="svm")
