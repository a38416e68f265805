"""CATHODE building blocks: regions, the SR mjj KDE, SIC and its maximum."""

import numpy as np
import pytest
from scipy.stats import ks_2samp, norm

from genhep.cathode import (
    ClassifierSettings,
    Regions,
    SignalRegionMjj,
    max_sic,
    sic_curve,
    train_anomaly_classifier,
)
from genhep.errors import GenhepError


def falling_mjj(n, seed):
    """A dijet-like falling spectrum above 2.5 TeV."""
    return 2.5 + np.random.default_rng(seed).exponential(0.6, n)


def test_regions_partition_the_range_and_reject_bad_bounds():
    mjj = falling_mjj(50_000, 0)
    r = Regions(3.3, 3.7, low=2.6, high=5.0)
    sr, sb = r.signal_region(mjj), r.sidebands(mjj)
    assert not (sr & sb).any()
    outside = (mjj < 2.6) | (mjj >= 5.0)
    assert np.array_equal(sr | sb | outside, np.ones_like(sr))
    assert mjj[sr].min() >= 3.3 and mjj[sr].max() < 3.7
    with pytest.raises(GenhepError, match="cathode.regions"):
        Regions(3.7, 3.3)


def test_kde_reproduces_the_signal_region_mjj():
    r = Regions(3.3, 3.7)
    train, held_out = falling_mjj(400_000, 1), falling_mjj(400_000, 2)
    kde = SignalRegionMjj(train[r.signal_region(train)], r)
    drawn = kde.sample(20_000, np.random.default_rng(3))
    assert len(drawn) == 20_000 and r.signal_region(drawn).all()
    truth = held_out[r.signal_region(held_out)]
    assert ks_2samp(drawn, truth).pvalue > 0.01


def test_perfect_classifier_reaches_the_floor_limited_sic():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(1000), np.zeros(10_000)]
    scores = labels + 0.01 * rng.random(len(labels))  # every signal above every background
    curve = sic_curve(labels, scores)
    value, floor = max_sic(curve, n_background=10_000, min_background=50)
    assert floor == pytest.approx(0.005)
    assert value == pytest.approx(1 / np.sqrt(0.005), rel=1e-9)  # TPR 1 at the floor


def test_random_classifier_has_no_sic_gain():
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(20_000), np.zeros(20_000)]
    curve = sic_curve(labels, rng.random(len(labels)))
    value, _ = max_sic(curve, n_background=20_000, min_background=200)
    # TPR ≈ FPR, so SIC ≈ √FPR ≤ 1, up to fluctuations of the ~200-event working points.
    assert value < 1.3


def test_sic_matches_the_analytic_curve_of_two_gaussians():
    rng = np.random.default_rng(2)
    n = 200_000
    labels = np.r_[np.ones(n), np.zeros(n)]
    scores = np.r_[rng.normal(1.5, 1, n), rng.normal(0, 1, n)]
    curve = sic_curve(labels, scores)
    for fpr in (0.3, 0.1, 0.01):
        i = np.searchsorted(curve.fpr, fpr)
        threshold = norm.isf(curve.fpr[i])
        expected = norm.sf(threshold - 1.5) / np.sqrt(curve.fpr[i])
        assert curve.sic[i] == pytest.approx(expected, rel=0.03)
        assert curve.rejection[i] == pytest.approx(1 / curve.fpr[i])


def test_sic_needs_both_classes():
    with pytest.raises(GenhepError, match="both signal"):
        sic_curve(np.ones(10), np.arange(10.0))


def gaussian_signal_and_background(n_bkg, n_sig, seed):
    rng = np.random.default_rng(seed)
    bkg = rng.normal(0, 1, (n_bkg, 4))
    sig = rng.normal([1.5, -1.5, 1.5, 0.0], 0.3, (n_sig, 4))
    return bkg, sig


FAST = ClassifierSettings(epochs=12, batch_size=256, best_epochs=3, runs=2, seed=1)


def test_idealized_classifier_finds_a_small_injected_signal():
    """SR data = background + 3% signal against a true-background template: SIC >> 1."""
    bkg, sig = gaussian_signal_and_background(20_000, 600, 0)
    template = gaussian_signal_and_background(20_000, 0, 1)[0]
    test_bkg, test_sig = gaussian_signal_and_background(20_000, 2_000, 2)
    scores = train_anomaly_classifier(
        np.vstack([bkg, sig]), template, np.vstack([test_sig, test_bkg]), FAST
    )
    assert scores.shape == (2, 22_000)
    labels = np.r_[np.ones(2_000), np.zeros(20_000)]
    value, _ = max_sic(sic_curve(labels, scores.mean(0)), 20_000, min_background=50)
    print(f"idealized max SIC {value:.2f}")
    assert value > 5  # a random classifier gives ≈ 1; a perfect one 1/√0.0025 = 20


def test_null_classifier_learns_nothing():
    """No signal in the data: held-out data and template stay indistinguishable."""
    from sklearn.metrics import roc_auc_score

    data, template = (gaussian_signal_and_background(10_000, 0, s)[0] for s in (3, 4))
    held_data, held_template = (gaussian_signal_and_background(10_000, 0, s)[0] for s in (5, 6))
    scores = train_anomaly_classifier(data, template, np.vstack([held_data, held_template]), FAST)
    labels = np.r_[np.ones(10_000), np.zeros(10_000)]
    # 10k vs 10k: the AUC's standard error is ≈ 0.004; allow ±0.02.
    assert abs(roc_auc_score(labels, scores.mean(0)) - 0.5) < 0.02
