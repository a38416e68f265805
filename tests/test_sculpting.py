"""Sculpting of the mjj spectrum by a cut on an anomaly score (genhep.cathode.sculpting)."""

import matplotlib.figure
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, kstest

from genhep.cathode.sculpting import (
    chi2_pass_fail,
    jensen_shannon,
    merge_bins,
    plot_sculpting,
    sculpting,
)
from genhep.errors import GenhepError

EPS = 1e-3  # JSD allowance on top of 3 × its shuffled null


def falling_mjj(n, seed):
    """A dijet-like falling spectrum above 2.5 TeV, and the generator that drew it."""
    rng = np.random.default_rng(seed)
    return 2.5 + rng.exponential(0.6, n), rng


def by_efficiency(rows):
    return {r["efficiency"]: r for r in rows}


def test_a_score_independent_of_mjj_does_not_sculpt():
    mjj, rng = falling_mjj(50_000, 0)
    rows = by_efficiency(sculpting(mjj, rng.random(len(mjj)), seed=1))
    for eff in (0.1, 0.01):
        r = rows[eff]
        assert r["skipped"] is None and r["passing"] == round(eff * 50_000)
        assert 0.5 <= r["chi2_ndf"] <= 1.7, r
        assert r["p_value"] > 0.01, r
        assert r["jsd"] < 3 * r["jsd_null"] + EPS, r
    assert rows[0.001]["passing"] == 50 and rows[0.001]["skipped"] is None


def test_the_chi2_is_calibrated_for_the_subset_correlation():
    """p-values uniform over independent draws: the after-cut sample being a subset of
    the before sample is accounted for (ignoring it would make χ² too small)."""
    mjj, rng = falling_mjj(5_000, 2)
    p_values = [
        sculpting(mjj, rng.random(len(mjj)), (0.1,), permutations=0)[0]["p_value"]
        for _ in range(300)
    ]
    assert kstest(p_values, "uniform").pvalue > 0.01
    assert 0.42 < np.mean(p_values) < 0.58


def test_a_score_growing_with_mjj_sculpts():
    mjj, rng = falling_mjj(50_000, 3)
    scores = mjj + rng.normal(0.0, 0.05, len(mjj))
    rows = by_efficiency(sculpting(mjj, scores, seed=4))
    for eff in (0.1, 0.01, 0.001):
        r = rows[eff]
        assert r["chi2_ndf"] > 10 and r["p_value"] < 1e-6, r
        assert r["jsd"] > 10 * r["jsd_null"], r
        assert r["mean_shift"] > 0
        assert mjj[scores >= r["threshold"]].mean() > mjj.mean()


def test_chi2_equals_pearsons_on_the_pass_fail_table():
    passed = np.array([12.0, 30.0, 7.0, 20.0])
    failed = np.array([100.0, 180.0, 90.0, 110.0])
    chi2, ndf = chi2_pass_fail(passed, failed)
    expected = chi2_contingency(np.vstack([passed, failed]), correction=False)
    assert chi2 == pytest.approx(expected.statistic, rel=1e-12) and ndf == expected.dof


def test_bins_are_merged_until_enough_passing_events_are_expected():
    before = np.array([400.0, 300.0, 0.0, 200.0, 100.0, 50.0, 10.0])
    groups = merge_bins(before, p=0.02)  # expected passing: 8, 6, 0, 4, 2, 1, 0.2
    assert groups.tolist() == [0, 1, 2, 2, 2, 2, 2]
    assert merge_bins(before, p=1e-4).tolist() == [0] * 7


def test_jensen_shannon_is_in_bits_between_zero_and_one():
    p, q = np.array([1.0, 3.0, 6.0, 0.0]), np.array([2.0, 2.0, 5.0, 1.0])
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, rel=1e-12)
    assert jensen_shannon(p, 2 * p) == 0.0
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0


def test_cuts_with_too_few_events_are_skipped_with_a_reason():
    mjj, rng = falling_mjj(50_000, 5)
    rows = sculpting(mjj, rng.random(len(mjj)), (0.01, 1e-4), min_events=50)
    assert rows[0]["skipped"] is None
    assert rows[1]["passing"] == 5 and "fewer than 50" in rows[1]["skipped"]
    assert all(rows[1][k] is None for k in ("chi2", "chi2_ndf", "p_value", "jsd", "jsd_null"))
    few = sculpting(mjj, rng.random(len(mjj)), (1e-4,), min_events=1)[0]
    assert "2 bins" in few["skipped"]
    tied = sculpting(mjj, np.zeros(len(mjj)), (0.1,))[0]
    assert "every event" in tied["skipped"]
    with pytest.raises(GenhepError, match="efficiencies"):
        sculpting(mjj, rng.random(len(mjj)), (1.0,))
    with pytest.raises(GenhepError, match="1-D"):
        sculpting(mjj, rng.random(10))


def test_results_are_deterministic_for_a_seed():
    mjj, rng = falling_mjj(20_000, 6)
    scores = rng.random(len(mjj))
    first, again = sculpting(mjj, scores, seed=7), sculpting(mjj, scores, seed=7)
    assert first == again
    other = sculpting(mjj, scores, seed=8)
    assert [r["chi2"] for r in other] == [r["chi2"] for r in first]  # no randomness in χ²
    assert [r["jsd_null"] for r in other] != [r["jsd_null"] for r in first]


def test_the_plot_is_written_atomically(tmp_path, monkeypatch):
    mjj, rng = falling_mjj(20_000, 9)
    scores = mjj + rng.normal(0.0, 0.3, len(mjj))
    path = tmp_path / "sculpting.png"
    plot_sculpting(mjj, scores, (0.1, 0.01, 1e-5), path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["sculpting.png"]

    def broken(self, fname, **kwargs):  # a write that fails halfway
        open(fname, "wb").write(b"partial")
        raise RuntimeError("savefig failed")

    path.write_bytes(b"old")
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="savefig failed"):
        plot_sculpting(mjj, scores, (0.1,), path, "test")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["sculpting.png"]
