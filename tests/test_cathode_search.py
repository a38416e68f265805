"""The bump hunt of a search point (genhep.cathode.search) and the windows without signal:
the fixed sets, the supervised job and the evaluation there, and the summary's tables."""

import json

import h5py
import numpy as np
import pytest

from genhep.cathode.bumphunt import dijet
from genhep.cathode.datasets import Events, fixed_sets, partition
from genhep.cathode.files import ScoredEvents, write_events, write_scores
from genhep.cathode.regions import Regions
from genhep.cathode.search import BUMP_EFFICIENCIES, method_bump_hunt

SR, GAP = (3.3, 3.7), (3.1, 3.9)
COUNTS = {"sr": list(SR), "sb_holdout_gap": list(GAP), "signal_injected": 0}


def dijet_mjj(n, rng, lo=2.5, hi=7.0):
    """mjj drawn from the toy's dijet spectrum (p1 = 10, p2 = 4.5) by its inverse CDF."""
    grid = np.linspace(lo, hi, 20_001)
    cdf = np.cumsum(dijet(grid / 13.0, 1.0, 10.0, 4.5, 0.0))
    return np.interp(rng.random(n), cdf / cdf[-1], grid)


def search_point(rng, n=200_000, fraction=0.2, signal=0, score_signal=True):
    """A point's sideband set (outside the gap) and its SR check slice (a share
    ``fraction`` of the SR events) with background scores uniform and independent of
    mjj, plus ``signal`` SR events at 3.5 TeV scored high (if ``score_signal``)."""
    mjj = dijet_mjj(n, rng)
    outside = (mjj < GAP[0]) | (mjj >= GAP[1])
    in_sr = (mjj >= SR[0]) & (mjj < SR[1])
    sr_mjj = mjj[in_sr][rng.random(in_sr.sum()) < fraction]
    sig_mjj = rng.normal(3.5, 0.05, int(round(fraction * signal)))
    runs = 2
    sideband = ScoredEvents(
        rng.random((runs, outside.sum())), mjj[outside], np.zeros(outside.sum(), np.int64)
    )
    sig_scores = 0.99 + 0.01 * rng.random((runs, len(sig_mjj)))
    if not score_signal:
        sig_scores = rng.random((runs, len(sig_mjj)))
    search = ScoredEvents(
        np.hstack([rng.random((runs, len(sr_mjj))), sig_scores]),
        np.r_[sr_mjj, sig_mjj],
        np.r_[np.zeros(len(sr_mjj)), np.ones(len(sig_mjj))].astype(np.int64),
    )
    return sideband, search


def test_the_bump_hunt_finds_nothing_without_signal_over_toys():
    """No signal, scores independent of mjj: the SR count of the check slice agrees with
    the scaled sideband fit, every cut, over toys (pulls of mean ~0, width ~1)."""
    z = {eff: [] for eff in BUMP_EFFICIENCIES}
    for seed in range(12):
        sideband, search = search_point(np.random.default_rng(seed))
        for row in method_bump_hunt(sideband, search, 0.2, COUNTS):
            assert row["valid"] and row["reason"] is None, row
            z[row["efficiency"]].append(row["z"])
    everything = np.concatenate(list(z.values()))
    assert abs(everything.mean()) < 0.6 and 0.5 < everything.std() < 1.6, z
    assert np.abs(everything).max() < 4


def test_the_bump_hunt_recovers_an_injected_signal_after_the_cut():
    """600 signal events (120 in the slice) scored high: the 1% cut keeps them and about
    1% of the background, so Z grows far above its no-cut value and near the true
    S/sqrt(B); the fit's b stays the background's."""
    sideband, search = search_point(np.random.default_rng(7), signal=600)
    rows = {r["efficiency"]: r for r in method_bump_hunt(sideband, search, 0.2, COUNTS)}
    assert rows[1.0]["z"] < 4 < 8 < rows[0.01]["z"]
    assert rows[0.01]["s_true"] == 120
    assert rows[0.01]["b"] == pytest.approx(rows[0.01]["b_true"], abs=4 * np.sqrt(rows[0.01]["b"]))
    # The same signal scored like background: no cut makes it stand out.
    sideband, search = search_point(np.random.default_rng(7), signal=600, score_signal=False)
    rows = {r["efficiency"]: r for r in method_bump_hunt(sideband, search, 0.2, COUNTS)}
    assert rows[0.01]["z"] < 3


def test_the_fit_skips_the_gap_and_scales_to_the_slice():
    """The gap holds no sideband event: fitting its empty bins would drag the fit down.
    With the gap excluded the SR prediction matches the SR's true count to its error."""
    rng = np.random.default_rng(3)
    sideband, search = search_point(rng, n=400_000, fraction=0.25)
    no_cut = method_bump_hunt(sideband, search, 0.25, COUNTS)[0]
    assert no_cut["efficiency"] == 1.0
    assert no_cut["b"] == pytest.approx(no_cut["n_obs"], abs=3 * np.sqrt(no_cut["n_obs"]))
    assert no_cut["fit_p_value"] > 1e-3
    assert no_cut["sigma_b"] < 0.5 * np.sqrt(no_cut["b"])  # the sidebands are 4x the slice


# --- windows without signal ---------------------------------------------------------------


def scan_events(n=40_000, seed=0):
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.05).astype(np.int64)
    mjj = np.where(label == 1, rng.normal(3.5, 0.05, n), dijet_mjj(n, rng))
    x = rng.normal(size=(n, 2)) + label[:, None]
    return Events(x, mjj, label, ("a", "b"))


def test_a_window_without_signal_has_empty_signal_sets_not_an_error():
    events = scan_events()
    part = partition(events.label, {"data": 0.4, "reference": 0.4, "test": 0.2}, 0.5, 0)
    sets = fixed_sets(events, part, Regions(4.3, 4.7, 2.5, 7.0))
    assert len(sets["signal"]) == 0 and sets["test"].label.sum() == 0
    assert len(sets["test"]) > 10 and len(sets["reference"]) > 10
    with pytest.raises(Exception, match=r"holds no test background events"):
        fixed_sets(events, part, Regions(8.0, 8.4, 2.5, 9.0))


def test_the_supervised_job_without_signal_writes_not_applicable(tmp_path):
    from genhep.cathode.stage_classify import STAGE

    rng = np.random.default_rng(1)
    for name, n in (("signal", 0), ("reference", 500), ("test", 300)):
        write_events(
            tmp_path / f"{name}.h5",
            Events(rng.normal(size=(n, 2)), np.full(n, 4.5), np.zeros(n, np.int64), ("a", "b")),
        )
    inputs = {k: tmp_path / f"{f}.h5" for k, f in (("label1", "signal"), ("label0", "reference"))}
    settings = {"epochs": 1, "runs": 1, "best_epochs": 1, "method": "supervised", "device": "cpu"}
    STAGE(settings, {**inputs, "test": tmp_path / "test.h5"}, {"scores": tmp_path / "s.h5"})
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["scores"].shape == (0, 300)
        assert not f.attrs["applicable"] and "no signal in this SR" in f.attrs["reason"]


def test_the_evaluation_of_a_window_without_signal_keeps_its_background_figures(tmp_path):
    """No signal in the test set: SIC is not applicable (no error), the null check,
    sculpting and bump hunt are reported, the not-applicable supervised file is marked."""
    from genhep.cathode.layout import EVALUATION_FILES
    from genhep.cathode.stage_evaluate import STAGE as EVALUATE

    rng = np.random.default_rng(2)
    n_test = 400
    write_events(
        tmp_path / "test.h5",
        Events(
            rng.normal(size=(n_test, 1)), np.full(n_test, 3.5), np.zeros(n_test, np.int64), ("a",)
        ),
    )
    counts = {**COUNTS, "window": 3.5, "seed": 0, "signal_sr": 0, "background_sr": 9000}
    counts |= {"s_over_b": 0.0, "s_over_sqrt_b": 0.0}
    (tmp_path / "counts.json").write_text(json.dumps(counts))
    sideband, search = search_point(rng)
    info = {"check_auc": 0.5, "null_pull": 0.1, "null_sigma": 0.01, "search_fraction": 0.2}
    scored = {"sideband": sideband, "search": search}
    write_scores(tmp_path / "cathode.h5", rng.random((2, n_test)), info, None, scored)
    none = {"applicable": False, "reason": "no signal in this SR", "runs": 0}
    write_scores(tmp_path / "supervised.h5", np.empty((0, n_test)), none)
    outputs = {name: tmp_path / "out" / file for name, file in EVALUATION_FILES.items()}
    inputs = {
        "scores": [tmp_path / "cathode.h5", tmp_path / "supervised.h5"],
        "test": tmp_path / "test.h5",
        "counts": tmp_path / "counts.json",
    }
    EVALUATE({"methods": ["cathode_maf", "supervised"]}, inputs, outputs)
    result = json.loads(outputs["evaluation"].read_text())
    assert result["sic"].startswith("not applicable") and result["test_signal"] == 0
    cathode, supervised = result["methods"]["cathode_maf"], result["methods"]["supervised"]
    assert cathode["max_sic"] is None and cathode["null_pull"] == 0.1
    assert [r["efficiency"] for r in cathode["bump_hunt"]] == list(BUMP_EFFICIENCIES)
    assert all(abs(r["z"]) < 4 for r in cathode["bump_hunt"])
    assert cathode["sculpting"][0]["skipped"] is None
    assert supervised == none | {"applicable": False}
    for plot in ("sic", "rejection", "sculpting", "bumphunt"):
        assert outputs[plot].read_bytes()[:4] == b"\x89PNG", plot


def test_the_summary_marks_not_applicable_and_flags_failed_templates(tmp_path):
    from genhep.cathode.stage_summary import STAGE as SUMMARY
    from genhep.cathode.stage_summary import summary_rows

    def evaluation(window, level, pull, sic):
        method = {"applicable": True, "runs": 2, "check_auc": 0.5, "null_pull": pull}
        method |= {"null_sigma": 0.01, "max_sic": sic, "max_sic_ensemble": sic and sic[1]}
        method |= {"auc": sic and [0.6, 0.7, 0.8], "sic": None if sic else "not applicable"}
        method["bump_hunt"] = [
            {"efficiency": 1.0, "z": 0.2, "n_obs": 900, "b": 890.0, "sigma_b": 9.0},
            {"efficiency": 0.01, "z": 3.5, "n_obs": 30, "b": 12.0, "sigma_b": 2.0},
        ]
        supervised = {"applicable": False, "reason": "no signal in this SR", "runs": 0}
        counts = {"window": window, "seed": 0, "signal_injected": level, "signal_sr": 0}
        counts |= {"background_sr": 9000, "s_over_b": 0.0, "s_over_sqrt_b": 0.0}
        return {
            **counts,
            "fpr_floor": 0.01,
            "methods": {"cathode_vae": method, "supervised": supervised},
        }

    evaluations = [
        evaluation(3.5, 0, 5.0, [1.0, 1.0, 1.0]),
        evaluation(3.5, 500, 9.0, [5.0, 6.0, 7.0]),
        evaluation(4.5, 0, 0.5, None),
    ]
    paths = []
    for i, e in enumerate(evaluations):
        paths.append(tmp_path / f"e{i}.json")
        paths[-1].write_text(json.dumps(e))
    outputs = {k: tmp_path / f"out.{k}" for k in ("csv", "md", "plot", "significance")}
    SUMMARY(None, {"evaluations": paths}, outputs)
    md = outputs["md"].read_text()
    flagged = [line for line in md.splitlines() if "template fails the null check (+5.0)" in line]
    assert len(flagged) == 2  # both levels at window 3.5, seed 0; not window 4.5
    assert "| supervised | 4.50 | 0 | 0 | 0 | 9000 | 0.00 | 0.00 | n/a |" in md
    assert "## Bump hunt: local significance in the SR" in md and "+3.50" in md
    rows = summary_rows(evaluations)
    window45 = [r for r in rows if r["window"] == 4.5 and r["method"] == "cathode_vae"][0]
    assert window45["max_sic_median"] is None and window45["bump_z"] == 3.5
    assert window45["z_no_cut"] == 0.2 and window45["bump_efficiency"] == 0.01
    for name in ("plot", "significance"):
        assert outputs[name].read_bytes()[:4] == b"\x89PNG"
