"""JetNet's EFP metrics (W1EFP, FPD, KPD; genhep.clouds.efp) and the cloud classifier
two-sample test (genhep.clouds.classifier) on known answers, cross-checked against
jetnet 0.2.5's own formulas, written out here from its source as the reference."""

import numpy as np
import pytest
import torch
from energyflow import EFPSet
from scipy import linalg, stats
from scipy.optimize import curve_fit

from genhep.clouds import efp
from genhep.clouds.classifier import DeepSetsClassifier, classifier_auc
from genhep.metrics import frechet


def clouds(n_jets, n=12, seed=0, eta_shift=0.0, multiplicity=(2, 12)):
    """Jet-like clouds as genhep.clouds.Clouds holds them: float32 (jets, n, 3) =
    (Δη, Δφ, pT_rel), pT_rel descending and summing to 1, real particles a prefix of
    ``multiplicity`` (inclusive range) slots, padding exactly 0."""
    rng = np.random.default_rng(seed)
    k = rng.integers(multiplicity[0], multiplicity[1] + 1, n_jets)
    mask = np.arange(n) < k[:, None]
    pt = -np.sort(-rng.exponential(1.0, (n_jets, n)) * mask, axis=1)
    pt /= pt.sum(axis=1, keepdims=True)
    width = 0.05 + 0.1 * rng.random((n_jets, 1))
    eta = rng.normal(0.0, 1.0, (n_jets, n)) * width + eta_shift
    phi = rng.normal(0.0, 1.0, (n_jets, n)) * width
    particles = np.stack([eta, phi, pt], axis=-1) * mask[..., None]
    return particles.astype(np.float32), mask


def jetnet_efps(jets: np.ndarray, efpset_args) -> np.ndarray:
    """jetnet.utils.efps (jetnet 0.2.5) on zero-padded (jets, N, 3) = (eta, phi, pt)."""
    efpset = EFPSet(*efpset_args, measure="hadr", beta=1, normed=None, coords="ptyphim")
    return efpset.batch_compute(jets[:, :, [2, 0, 1]], 1)


# --- EFPs -------------------------------------------------------------------------------


def test_efps_are_jetnets_energyflow_call_and_w1efp_is_a_subset_of_the_fpd_set():
    particles, mask = clouds(40, seed=1)
    padded = particles.astype(np.float64)  # padding is exactly 0, as in JetNet's files
    for args in (efp.FPD_KPD_EFPSET_ARGS, efp.W1EFP_EFPSET_ARGS):
        ours, reference = efp.efps(particles, mask, args), jetnet_efps(padded, args)
        assert ours.shape == reference.shape and ours.dtype == np.float64
        np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-15)
    assert efp.efps(particles, mask).shape[1] == 36  # get_fpd_kpd_jet_features: 36 EFPs
    # the W1EFP set's 5 EFPs are columns of the d <= 4 set, bit for bit
    columns = efp.w1efp_columns()
    assert len(columns) == 5
    np.testing.assert_array_equal(
        efp.efps(particles, mask)[:, columns],
        efp.efps(particles, mask, efp.W1EFP_EFPSET_ARGS),
    )
    assert efp.efp_labels(efp.W1EFP_EFPSET_ARGS)[0].startswith("EFP n=4 d=4")


def test_efps_honour_the_mask_whatever_padding_holds_and_whatever_the_order():
    particles, mask = clouds(30, seed=2)
    mask[0] = False  # a jet without particles: every EFP 0, as JetNet's all-zero row
    particles[0] = 0.0
    expected = efp.efps(particles, mask)
    assert not expected[0].any() and np.all(expected[1:, 0] > 0)  # EFP 0: Σ pT
    rng = np.random.default_rng(0)
    order = np.stack([rng.permutation(particles.shape[1]) for _ in particles])
    shuffled = np.take_along_axis(particles, order[..., None], axis=1)
    shuffled_mask = np.take_along_axis(mask, order, axis=1)
    shuffled[~shuffled_mask] = rng.normal(0.0, 5.0, ((~shuffled_mask).sum(), 3))  # garbage
    np.testing.assert_allclose(efp.efps(shuffled, shuffled_mask), expected, rtol=1e-10)
    # chunking changes nothing
    np.testing.assert_array_equal(efp.efps(particles, mask, chunk_size=7), expected)
    with pytest.raises(ValueError, match="mask must be"):
        efp.efps(particles, mask[:, :-1])


# --- W1EFP ------------------------------------------------------------------------------


def test_w1efp_of_identical_sets_is_zero_and_of_scaled_pt_is_the_scaling():
    particles, mask = clouds(300, seed=3)
    real = (particles, mask)
    got = efp.w1efp(real, real, num_eval_samples=300, num_batches=2)
    assert set(got) == {f"efp{i}" for i in range(5)} | {"mean"}
    assert all(value == (0.0, 0.0) for value in got.values())
    # EFPs of n = 4 vertices with unnormalised energies (JetNet's normed=None) scale as
    # pT^4, and all are positive: W1(X, c⁴X) = (c⁴ − 1) E[X], per EFP.
    c = 1.1
    scaled = particles.copy()
    scaled[..., 2] *= c
    base = efp.efps(particles, mask, efp.W1EFP_EFPSET_ARGS)
    got = efp.w1efp(real, (scaled, mask), num_eval_samples=300, num_batches=2)
    expected = (c**4 - 1) * base.mean(axis=0)
    for i in range(5):
        assert got[f"efp{i}"][0] == pytest.approx(expected[i], rel=1e-5)
    assert got["mean"][0] == pytest.approx(expected.mean(), rel=1e-5)


def test_w1efp_error_is_the_norm_of_the_per_efp_spreads_and_seeded():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(500, 3)), rng.normal(0.3, 1.0, size=(500, 3))
    got = efp.w1efp_of_efps(a, b, num_eval_samples=200, num_batches=4, seed=9)
    assert got == efp.w1efp_of_efps(a, b, num_eval_samples=200, num_batches=4, seed=9)
    spreads = np.array([got[f"efp{i}"][1] for i in range(3)])
    assert got["mean"][1] == pytest.approx(np.linalg.norm(spreads), rel=1e-12)
    assert got["mean"][0] == pytest.approx(np.mean([got[f"efp{i}"][0] for i in range(3)]))


# --- FPD and KPD against jetnet's formulas ----------------------------------------------


def jetnet_normalise(x, y):
    maxes = np.max(np.abs(x), axis=0)
    maxes[maxes == 0] = 1
    return x / maxes, y / maxes


def jetnet_frechet(mu1, sigma1, mu2, sigma2):
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def jetnet_fpd(x, y, min_samples, max_samples, num_batches, num_points, seed=42):
    """jetnet.evaluation.fpd, normalise=True."""
    x, y = jetnet_normalise(x, y)
    batches = (1 / np.linspace(1.0 / min_samples, 1.0 / max_samples, num_points)).astype("int32")
    rng = np.random.default_rng(seed)
    vals = []
    for batch_size in batches:
        points = []
        for _ in range(num_batches):
            a, b = x[rng.choice(len(x), size=batch_size)], y[rng.choice(len(y), size=batch_size)]
            points.append(
                jetnet_frechet(
                    np.mean(a, axis=0),
                    np.cov(a, rowvar=False),
                    np.mean(b, axis=0),
                    np.cov(b, rowvar=False),
                )
            )
        vals.append(np.mean(points))
    params, covs = curve_fit(
        lambda t, c, s: c + s * t, 1 / batches, vals, bounds=([0, 0], [np.inf, np.inf])
    )
    return params[0], np.sqrt(np.diag(covs)[0])


def jetnet_kpd(x, y, num_batches, batch_size, seed=42):
    """jetnet.evaluation.kpd, normalise=True, num_threads=None: the unbiased MMD² with
    jetnet's kernel (x·y/d + 1)^4 from full kernel matrices, median and half the 16-84 %
    spread."""
    x, y = jetnet_normalise(x, y)

    def kernel(a, b):
        return (a @ b.T / a.shape[-1] + 1.0) ** 4

    values = []
    for i in range(num_batches):
        rng = np.random.default_rng(seed + i * 1000)
        a, b = x[rng.choice(len(x), size=batch_size)], y[rng.choice(len(y), size=batch_size)]
        xx, yy, xy = kernel(a, a), kernel(b, b), kernel(a, b)
        m, n = len(a), len(b)
        values.append(
            (xx.sum() - np.trace(xx)) / (m * (m - 1))
            + (yy.sum() - np.trace(yy)) / (n * (n - 1))
            - 2 * np.mean(xy)
        )
    return np.median(values), stats.iqr(values, rng=(16.275, 83.725)) / 2


def gaussians(n=20_000, seed=5):
    rng = np.random.default_rng(seed)
    sigma1, sigma2 = np.diag([1.0, 1.0, 2.0, 0.5]), np.diag([1.5, 1.0, 2.0, 0.5])
    sigma2[0, 1] = sigma2[1, 0] = 0.3
    mu2 = np.array([0.5, 0.0, 0.0, 0.0])
    x = rng.multivariate_normal(np.zeros(4), sigma1, size=n)
    y = rng.multivariate_normal(mu2, sigma2, size=n)
    return x, y, (np.zeros(4), sigma1, mu2, sigma2)


def test_fpd_is_jetnets_and_extrapolates_to_the_population_frechet_distance():
    x, y, population = gaussians()
    kw = {"min_samples": 5000, "max_samples": 20_000, "num_batches": 5, "num_points": 5}
    value, error = frechet.fpd(x, y, **kw)
    ref_value, ref_error = jetnet_fpd(x, y, **kw)
    assert value == pytest.approx(ref_value, rel=1e-9)
    assert error == pytest.approx(ref_error, rel=1e-6)
    # unnormalised, the 1/N extrapolation lands on the two Gaussians' Fréchet distance
    value, error = frechet.fpd(x, y, normalise=False, **kw)
    assert value == pytest.approx(jetnet_frechet(*population), abs=max(3 * error, 0.03))


def test_kpd_is_jetnets_unbiased_mmd():
    x, y, _ = gaussians(n=3000)
    value, error = frechet.kpd(x, y, num_batches=5, batch_size=800)
    ref_value, ref_error = jetnet_kpd(x, y, num_batches=5, batch_size=800)
    assert value == pytest.approx(ref_value, rel=1e-9)
    assert error == pytest.approx(ref_error, rel=1e-6)
    assert value > 5 * error  # the shift and the wider variance are seen


def test_fpd_kpd_of_identical_efps_vanish_within_their_errors_and_see_a_shift():
    particles, mask = clouds(400, seed=6)
    real_efps = efp.efps(particles, mask)
    fpd_kw = {"min_samples": 100, "max_samples": 400, "num_batches": 5, "num_points": 5}
    kpd_kw = {"num_batches": 10, "batch_size": 400}
    same = efp.efp_metrics(real_efps, real_efps, 400, 2, 0, fpd_kw, kpd_kw)
    assert same["w1efp"]["mean"] == (0.0, 0.0)
    assert same["fpd"][0] <= 2 * same["fpd"][1]
    assert abs(same["kpd"][0]) <= 3 * same["kpd"][1]
    # wider jets: every EFP with an edge grows
    wide = particles.copy()
    wide[..., :2] *= 1.5
    gen_efps = efp.efps(wide, mask)
    shifted = efp.efp_metrics(real_efps, gen_efps, 400, 2, 0, fpd_kw, kpd_kw)
    assert shifted["fpd"][0] > max(3 * shifted["fpd"][1], 10 * same["fpd"][1])
    # (KPD's error is the spread of one batch's value, large for heavy-tailed EFPs)
    assert shifted["kpd"][0] > 100 * (abs(same["kpd"][0]) + same["kpd"][1])
    assert shifted["w1efp"]["mean"][0] > 0
    # the clouds' entry points are the same computation
    assert efp.fpd((particles, mask), (wide, mask), **fpd_kw) == shifted["fpd"]
    assert efp.kpd((particles, mask), (wide, mask), **kpd_kw) == shifted["kpd"]


# --- the classifier two-sample test -----------------------------------------------------

SMALL = {"folds": 3, "epochs": 5, "hidden": 32}


def test_deep_sets_classifier_ignores_order_and_padding():
    particles, mask = clouds(16, seed=7)
    torch.manual_seed(0)
    model = DeepSetsClassifier(3, 1, 16).eval()
    x, m = torch.as_tensor(particles), torch.as_tensor(mask)
    jet = torch.randn(16, 1)
    expected = model(x, m, jet)
    order = torch.randperm(x.shape[1])
    garbage = torch.where(m[:, order, None], x[:, order], torch.randn_like(x))
    torch.testing.assert_close(model(garbage, m[:, order], jet), expected, rtol=1e-5, atol=1e-6)


def test_classifier_auc_is_one_half_for_one_distribution_and_seeded():
    a, b = clouds(1000, seed=8), clouds(1000, seed=9)
    auc, spread = classifier_auc(a, b, seed=1, **SMALL)
    assert abs(auc - 0.5) < 0.06 and 0 <= spread < 0.1
    assert classifier_auc(a, b, seed=1, **SMALL) == (auc, spread)
    # whatever the padded slots hold, nothing changes
    garbage = a[0].copy()
    garbage[~a[1]] = 3.0
    assert classifier_auc((garbage, a[1]), b, seed=1, **SMALL) == (auc, spread)


@pytest.mark.parametrize(
    "other",
    [{"eta_shift": 0.1}, {"multiplicity": (2, 5)}],
    ids=["delta-eta-shift", "multiplicity"],
)
def test_classifier_auc_separates_clearly_different_clouds(other):
    a = clouds(1000, seed=10, multiplicity=(6, 12))
    b = clouds(1000, seed=11, **({"multiplicity": (6, 12)} | other))
    auc, _ = classifier_auc(a, b, seed=2, **SMALL)
    assert auc > 0.9


def test_classifier_auc_balances_the_sides_and_checks_its_inputs():
    a, b = clouds(300, seed=12), clouds(100, seed=13)
    auc, _ = classifier_auc(a, b, max_jets=60, **SMALL)
    assert 0.0 <= auc <= 1.0
    bad = a[0].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="truth: real particles hold non-finite"):
        classifier_auc((bad, a[1]), b, **SMALL)
    with pytest.raises(ValueError, match="differ in N"):
        classifier_auc(a, clouds(100, n=10), **SMALL)
