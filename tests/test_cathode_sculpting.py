"""The sculpting measurement and the bump hunt wired into the CATHODE branch: the held-out
sideband events (stage_data), the classifiers' scores on them and on the SR check slice
(stage_classify), the sculpting and the bump hunt per method (stage_evaluate) and their
summary columns (stage_summary)."""

import json

import h5py
import numpy as np
import pytest

from genhep.cathode.datasets import Events
from genhep.cathode.files import ScoredEvents, read_events, write_events, write_scores
from genhep.cathode.regions import Regions
from genhep.cathode.sculpting import gap_edges, plot_sculpting_methods
from genhep.io.hdf5 import write_table

PNG = b"\x89PNG\r\n\x1a\n"


def falling_mjj(n, rng):
    return 2.6 + rng.exponential(0.6, n)


def labelled_events(n=40_000, n_signal=2_000, seed=0):
    rng = np.random.default_rng(seed)
    label = np.zeros(n, np.int64)
    label[rng.choice(n, n_signal, replace=False)] = 1
    mjj = np.where(label == 1, rng.normal(3.5, 0.3, n), falling_mjj(n, rng))
    x = rng.normal(0, 1, (n, 2)) + 2.0 * label[:, None]
    return Events(x, mjj, label, ("a", "b"))


# --- the held-out sideband events --------------------------------------------------------


def test_the_data_stage_holds_out_the_sideband_background_outside_the_short_sidebands(
    tmp_path,
):
    from genhep.cathode.datasets import injected_data, partition
    from genhep.cathode.layout import DATA_FILES
    from genhep.cathode.stage_data import STAGE as DATA

    events = labelled_events()
    path = tmp_path / "events.h5"
    write_table(path, events.columns())
    split = {"data": 0.3, "reference": 0.5, "test": 0.2}
    search = {"features": ["a", "b"], "mjj_range": [2.6, 6.0], "background_split": split}
    data = {name: tmp_path / "data" / file for name, file in DATA_FILES.items()}
    counts = DATA({**search, "window": 3.5, "seed": 0, "signal": 300}, {"events": path}, data)
    held = read_events(data["sb_holdout"])
    assert counts["sb_holdout"] == len(held) > 1000
    assert counts["sb_holdout_gap"] == pytest.approx([3.1, 3.9])  # SR ± cwola width 0.2
    # Data, signal included (the bump hunt fits data); sculpting takes its background.
    assert counts["sb_holdout_background"] == (held.label == 0).sum() < len(held)
    regions = Regions(3.3, 3.7, 2.6, 6.0)
    assert regions.sidebands(held.mjj).all()
    assert not ((held.mjj >= 3.1) & (held.mjj < 3.9)).any()
    short = read_events(data["sb_short"])
    assert not np.isin(held.mjj, short.mjj).any()  # no event in both
    # Exactly the point's data background there: nothing else, nothing dropped.
    part = partition(events.label, split, 0.5, 0)
    point = injected_data(events, part, 300)
    mask = regions.sidebands(point.mjj) & ((point.mjj < 3.1) | (point.mjj >= 3.9))
    expected = point.where(mask)
    assert np.array_equal(np.sort(held.mjj), np.sort(expected.mjj))
    # The same background at every signal level (the injection adds signal only).
    data0 = {name: tmp_path / "data0" / file for name, file in DATA_FILES.items()}
    DATA({**search, "window": 3.5, "seed": 0, "signal": 0}, {"events": path}, data0)
    assert np.array_equal(read_events(data0["sb_holdout"]).mjj, held.where(held.label == 0).mjj)


# --- the classifiers' scores on them -----------------------------------------------------


def write_sets(tmp_path, rng):
    for name, n, label in (("l1", 600, 1), ("l0", 1_800, 0), ("test", 80, 0), ("sb", 900, 0)):
        x = rng.normal(size=(n, 2)) + 0.5 * label
        write_events(
            tmp_path / f"{name}.h5",
            Events(x, falling_mjj(n, rng), np.full(n, label), ("a", "b")),
        )
    return {
        "label1": tmp_path / "l1.h5",
        "label0": tmp_path / "l0.h5",
        "test": tmp_path / "test.h5",
    }


@pytest.mark.parametrize("kind", ["mlp", "hgb"])
def test_sideband_scores_leave_the_test_scores_bit_identical(tmp_path, kind):
    """The sideband events are scored apart, after the test events: the test scores, the
    check and its per-run AUCs are byte for byte those of a job without them. The search
    set is the label-1 events of the check slice, with their scores there."""
    from genhep.cathode.stage_classify import STAGE

    inputs = write_sets(tmp_path, np.random.default_rng(4))
    settings = {"epochs": 2, "best_epochs": 2, "runs": 2, "seed": 3, "method": "m", "kind": kind}
    settings["device"] = "cpu"
    without, with_sb = tmp_path / "without.h5", tmp_path / "with.h5"
    STAGE(settings, inputs, {"scores": without})
    STAGE(settings, {**inputs, "sideband": tmp_path / "sb.h5"}, {"scores": with_sb})
    with h5py.File(without, "r") as a, h5py.File(with_sb, "r") as b:
        for name in ("scores", "check_auc_per_run", "selection_auc_per_run"):
            assert a[name][...].tobytes() == b[name][...].tobytes(), name
        assert "sideband" not in a and "search" not in a
        assert b["sideband/scores"].shape == (2, 900)
        assert b["sideband/scores"].dtype == np.float32
        sb = read_events(tmp_path / "sb.h5")
        assert np.array_equal(b["sideband/mjj"][...], sb.mjj)
        assert np.array_equal(b["sideband/label"][...], sb.label)
        assert b.attrs["n_sideband"] == 900
        assert b.attrs["check_auc"] == a.attrs["check_auc"]
        assert np.isfinite(b["sideband/scores"][...]).all()
        # The check slice's label-1 events: 20% of 600, distinct SR-data events.
        n_search = b.attrs["n_check_label1"]
        assert b["search/scores"].shape == (2, n_search) and n_search == 120
        assert b.attrs["search_fraction"] == pytest.approx(120 / 600)
        l1 = read_events(tmp_path / "l1.h5")
        assert np.isin(b["search/mjj"][...], l1.mjj).all()
        assert len(np.unique(b["search/mjj"][...])) == n_search
        assert (b["search/label"][...] == 1).all()


# --- the evaluation and the summary ------------------------------------------------------


def test_gap_edges_put_the_gap_in_one_bin_and_no_bin_across_it():
    rng = np.random.default_rng(0)
    mjj = falling_mjj(50_000, rng)
    mjj = mjj[(mjj < 3.1) | (mjj >= 3.9)]
    edges = gap_edges(mjj, (3.1, 3.9), 40)
    assert 3.1 in edges and 3.9 in edges
    gap = np.flatnonzero(edges == 3.1)[0]
    assert edges[gap + 1] == 3.9  # one bin from 3.1 to 3.9
    widths = np.delete(np.diff(edges), gap)
    assert 35 <= len(widths) <= 45 and np.ptp(widths) < 0.25 * widths.mean()
    assert np.all(np.diff(edges) > 0)
    # One side only (a window at the end of the range): bins on that side.
    above = gap_edges(mjj[mjj >= 3.9], (3.1, 3.9), 40)
    assert above[0] == 3.9 and len(above) == 41


def write_point(tmp_path, rng, n_sb=60_000):
    """A point's test set, counts and three scores files: one whose sideband scores do
    not depend on mjj, one whose grow with it, and one without sideband scores."""
    label = np.r_[np.ones(40), np.zeros(360)].astype(np.int64)
    write_events(
        tmp_path / "test.h5", Events(rng.normal(size=(400, 1)), np.full(400, 3.5), label, ("a",))
    )
    mjj = falling_mjj(3 * n_sb, rng)
    mjj = mjj[(mjj < 3.1) | (mjj >= 3.9)][:n_sb]
    counts = {"window": 3.5, "sr": [3.3, 3.7], "seed": 0, "signal_injected": 0, "signal_sr": 0}
    counts |= {"background_sr": 5000, "s_over_b": 0.0, "s_over_sqrt_b": 0.0}
    counts |= {"sb_holdout": len(mjj), "sb_holdout_gap": [3.1, 3.9]}
    (tmp_path / "counts.json").write_text(json.dumps(counts))
    test_scores = rng.random((2, 400))
    info = {"check_auc": 0.5, "null_pull": 0.0, "null_sigma": 0.01}
    flat = rng.random((2, len(mjj)))
    grows = mjj + rng.normal(0, 0.3, (2, len(mjj)))
    for name, scores in (("flat", flat), ("grows", grows)):
        sideband = ScoredEvents(scores, mjj, np.zeros(len(mjj), np.int64))
        write_scores(tmp_path / f"{name}.h5", test_scores, info, None, {"sideband": sideband})
    write_scores(tmp_path / "supervised.h5", test_scores, info)
    return [tmp_path / f"{m}.h5" for m in ("flat", "grows", "supervised")]


def test_the_evaluation_measures_sculpting_per_method_with_sideband_scores(tmp_path):
    from genhep.cathode.layout import EVALUATION_FILES
    from genhep.cathode.stage_evaluate import SCULPTING_EFFICIENCIES
    from genhep.cathode.stage_evaluate import STAGE as EVALUATE

    scores = write_point(tmp_path, np.random.default_rng(1))
    outputs = {name: tmp_path / "out" / file for name, file in EVALUATION_FILES.items()}
    inputs = {"scores": scores, "test": tmp_path / "test.h5", "counts": tmp_path / "counts.json"}
    EVALUATE({"methods": ["flat", "grows", "supervised"]}, inputs, outputs)
    result = json.loads(outputs["evaluation"].read_text())  # standard JSON: no inf, no NaN
    methods = result["methods"]
    assert "sculpting" not in methods["supervised"]
    for method in ("flat", "grows"):
        rows = methods[method]["sculpting"]
        assert [r["efficiency"] for r in rows] == list(SCULPTING_EFFICIENCIES)
        assert all(r["skipped"] is None for r in rows), rows  # 60k events: 60 pass at 0.1%
    flat, grows = ({r["efficiency"]: r for r in methods[m]["sculpting"]} for m in ("flat", "grows"))
    assert 0.4 < flat[0.01]["chi2_ndf"] < 2.0 and flat[0.01]["p_value"] > 1e-3
    assert flat[0.01]["jsd"] < 3 * flat[0.01]["jsd_null"] + 1e-3
    assert grows[0.01]["chi2_ndf"] > 20 and grows[0.01]["jsd"] > 10 * grows[0.01]["jsd_null"]
    assert grows[0.01]["mean_shift"] > 0.3  # the cut keeps the high-mjj events
    assert outputs["sculpting"].read_bytes()[:8] == PNG
    json.dumps(result, allow_nan=False)


def test_the_summary_reports_sculpting_at_one_percent_or_the_tightest_cut(tmp_path):
    from genhep.cathode.stage_summary import (
        SUMMARY_COLUMNS,
        sculpting_row,
        summary_markdown,
        summary_rows,
    )

    def row(eff, chi2, skipped=None):
        keys = {"passing": int(eff * 1e4), "chi2_ndf": chi2, "p_value": 0.5}
        return {"efficiency": eff, **keys, "jsd": 1e-3, "jsd_null": 8e-4, "skipped": skipped}

    rows = [row(0.1, 1.1), row(0.01, 1.3), row(0.001, None, "too few")]
    assert sculpting_row(rows)["sculpting_chi2_ndf"] == 1.3
    assert sculpting_row(rows)["sculpting_efficiency"] == 0.01
    rows[1] = row(0.01, None, "too few")
    assert sculpting_row(rows)["sculpting_efficiency"] == 0.1  # the tightest measured
    assert set(sculpting_row(None).values()) == {None}
    assert set(sculpting_row([row(0.1, None, "x")]).values()) == {None}
    # The SIC columns are as they were; the sculpting ones come after them.
    assert SUMMARY_COLUMNS.index("runs") < SUMMARY_COLUMNS.index("sculpting_chi2_ndf")
    point = {"window": 3.5, "seed": 0, "signal_injected": 0, "signal_sr": 0}
    point |= {"background_sr": 500, "s_over_b": 0.0, "s_over_sqrt_b": 0.0, "fpr_floor": 0.1}
    method = {"max_sic": [1.0, 1.0, 1.0], "max_sic_ensemble": 1.0, "auc": [0.5] * 3, "runs": 2}
    method |= {"check_auc": 0.5, "null_pull": 0.0, "null_sigma": 0.01}
    evaluation = {
        **point,
        "methods": {"cwola": {**method, "sculpting": [row(0.1, 1.1), row(0.01, 7.5)]}},
    }
    evaluation["methods"]["supervised"] = method
    out = summary_rows([evaluation])
    by = {r["method"]: r for r in out}
    assert by["cwola"]["sculpting_chi2_ndf"] == 7.5 and by["supervised"]["sculpting_jsd"] is None
    md = summary_markdown(out)
    assert "## Sculpting at 1% background efficiency" in md
    sculpting_lines = md.split("## Sculpting")[1].splitlines()
    assert any(line.startswith("| cwola |") and "7.50" in line for line in sculpting_lines)
    assert not any(line.startswith("| supervised |") for line in sculpting_lines)
    # Without any sculpting: the table as before, no second one.
    assert "Sculpting" not in summary_markdown(summary_rows([{**point, "methods": {"m": method}}]))


def test_the_methods_figure_has_a_panel_per_method(tmp_path, monkeypatch):
    import matplotlib.figure

    rng = np.random.default_rng(2)
    mjj = falling_mjj(20_000, rng)
    panels = {"a": (mjj, rng.random(len(mjj))), "b": (mjj, mjj), "c": (mjj, -mjj)}
    axes = []
    savefig = matplotlib.figure.Figure.savefig

    def counting(self, fname, **kw):
        axes.append(len(self.axes))
        return savefig(self, fname, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", counting)
    path = tmp_path / "sculpting.png"
    plot_sculpting_methods(panels, (0.1, 0.01), path, "point", edges=gap_edges(mjj, (3.1, 3.9)))
    assert path.read_bytes()[:8] == PNG and axes == [6]  # spectra + ratio per method
