"""CATHODE building blocks: regions, the SR mjj KDE, SIC and its maximum."""

import numpy as np
import pytest
from scipy.stats import ks_2samp, norm

from genhep.cathode.classifier import (
    ClassifierSettings,
    check_slice,
    run_split,
    train_anomaly_classifier,
)
from genhep.cathode.datasets import (
    Events,
    fixed_sets,
    injected_data,
    load_events,
    partition,
    short_sidebands,
)
from genhep.cathode.regions import Regions, SignalRegionMjj
from genhep.cathode.sic import max_sic, null_auc_sigma, run_summary, sic_curve
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
    result = train_anomaly_classifier(
        np.vstack([bkg, sig]), template, np.vstack([test_sig, test_bkg]), FAST
    )
    scores = result.scores
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
    result = train_anomaly_classifier(data, template, np.vstack([held_data, held_template]), FAST)
    labels = np.r_[np.ones(10_000), np.zeros(10_000)]
    # 10k vs 10k: the AUC's standard error is ≈ 0.004; allow ±0.02.
    assert abs(roc_auc_score(labels, result.scores.mean(0)) - 0.5) < 0.02
    # The same check without held-out data: the check slice held out from every run.
    check = result.null_check()
    assert check["null_sigma"] == pytest.approx(null_auc_sigma(2_000, 2_000), rel=1e-9)
    assert abs(check["null_pull"]) < 4, check


# --- the null check: on a slice that no run trained on or chose its epochs with -------------


def test_check_slice_is_disjoint_from_every_runs_training_and_epoch_choice():
    """The check slice is stratified (its counts are fixed), shared by every run, and
    outside each run's training and epoch-choice rows; each run trains on
    1 - val_fraction of the events, as without a check slice."""
    y = np.r_[np.ones(1_000), np.zeros(3_000)]
    s = ClassifierSettings(runs=4, seed=2, val_fraction=0.5, check_fraction=0.2)
    check = check_slice(y, s)
    assert (y[check] == 1).sum() == 200 and (y[check] == 0).sum() == 600
    assert np.array_equal(check, check_slice(y, s))  # seeded
    selects = []
    for run in range(s.runs):
        train, select = run_split(len(y), check, s, run)
        assert len(train) == 2_000 and len(select) == 1_200
        assert not np.intersect1d(train, check).size and not np.intersect1d(select, check).size
        assert not np.intersect1d(train, select).size
        assert np.array_equal(np.sort(np.r_[train, select, check]), np.arange(len(y)))
        selects.append(select)
    assert not np.array_equal(selects[0], selects[1])  # each run its own epoch choice
    # The trained ensemble scores exactly that slice, with its labels.
    x = np.random.default_rng(0).normal(size=(len(y), 2))
    fast = ClassifierSettings(epochs=1, best_epochs=1, runs=2, seed=2)
    result = train_anomaly_classifier(x[:1_000], x[1_000:], x[:3], fast)
    assert np.array_equal(result.check_index, check)
    assert np.array_equal(result.check_labels, y[check])
    assert result.check_scores.shape == (2, 800)
    with pytest.raises(GenhepError, match=r"cathode.classifier.check_fraction: 0.5 .* below"):
        ClassifierSettings(val_fraction=0.5, check_fraction=0.5)


def test_null_spread_uses_the_counts_of_the_slice_it_scores():
    """The pull's null spread comes from the check slice's own label counts (120 vs 480
    here), and its AUC is the runs' mean prediction on that slice; the old check took the
    counts of the last run's validation half (about 300 vs 1200)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    x1, x0 = rng.normal(size=(600, 3)), rng.normal(size=(2_400, 3))
    s = ClassifierSettings(epochs=2, best_epochs=1, runs=3, seed=0)
    result = train_anomaly_classifier(x1, x0, x1[:3], s)
    check = result.null_check()
    assert (check["n_check_label1"], check["n_check_label0"]) == (120, 480)
    assert check["null_sigma"] == pytest.approx(null_auc_sigma(120, 480), rel=1e-12)
    auc = roc_auc_score(result.check_labels, result.check_scores.mean(0))
    assert check["check_auc"] == pytest.approx(auc, abs=1e-12)
    assert check["null_pull"] == pytest.approx((auc - 0.5) / null_auc_sigma(120, 480))
    assert result.check_auc_per_run.shape == result.selection_auc.shape == (3,)


def test_held_out_auc_pulls_are_standard_normal_on_pure_noise():
    """Labels 1 and 0 drawn from one density, a net big enough to memorize its 160
    training events: over 16 seeds the check AUC's pulls have mean 0 and spread 1
    (mean within 3/√16 = 0.75, spread in [0.5, 1.6]); measured: mean −0.12, spread 0.85.
    Had the check events trained a run, the pulls would sit well above 0: the same AUC
    on each run's own training events has mean pull > 2 (measured +3.2)."""
    from sklearn.metrics import roc_auc_score

    pulls, train_pulls = [], []
    s = dict(hidden=64, layers=3, epochs=15, batch_size=32, best_epochs=1, runs=1)
    for seed in range(16):
        x = np.random.default_rng(100 + seed).normal(size=(400, 4))
        settings = ClassifierSettings(**s, seed=seed, device="cpu")
        result = train_anomaly_classifier(x[:200], x[200:], x, settings)
        pulls.append(result.null_check()["null_pull"])
        y = np.r_[np.ones(200), np.zeros(200)]
        train, _ = run_split(len(y), result.check_index, settings, 0)
        auc = roc_auc_score(y[train], result.scores[0][train])  # x doubles as the test set
        n1 = int(y[train].sum())
        train_pulls.append((auc - 0.5) / null_auc_sigma(n1, len(train) - n1))
    print(
        f"check pulls mean {np.mean(pulls):+.2f} sd {np.std(pulls):.2f}; "
        f"training-events pulls mean {np.mean(train_pulls):+.2f}"
    )
    assert abs(np.mean(pulls)) < 3 / np.sqrt(16)
    assert 0.5 < np.std(pulls) < 1.6
    assert np.mean(train_pulls) > 2


def test_classify_stage_writes_the_check_and_the_summary_names_it(tmp_path):
    """The stage's scores file carries the check AUC, its pull and the check slice's
    counts, and the summary's CSV columns and table header say "check AUC"."""
    import h5py

    from genhep.cathode.files import write_events
    from genhep.cathode.stage_classify import STAGE
    from genhep.cathode.stage_summary import SUMMARY_COLUMNS, summary_markdown, summary_rows

    rng = np.random.default_rng(3)
    for name, n, label in (("l1", 500, 1), ("l0", 1_500, 0), ("test", 50, 0)):
        x = rng.normal(size=(n, 2))
        write_events(
            tmp_path / f"{name}.h5", Events(x, np.full(n, 3.5), np.full(n, label), ("a", "b"))
        )
    settings = {"epochs": 2, "best_epochs": 1, "runs": 2, "threads": 1, "seed": 0, "method": "m"}
    out = tmp_path / "scores.h5"
    inputs = {
        "label1": tmp_path / "l1.h5",
        "label0": tmp_path / "l0.h5",
        "test": tmp_path / "test.h5",
    }
    info = STAGE(settings, inputs, {"scores": out})
    with h5py.File(out, "r") as f:
        assert f["scores"].shape == (2, 50) and f["check_auc_per_run"].shape == (2,)
        assert (f.attrs["n_check_label1"], f.attrs["n_check_label0"]) == (100, 300)
        assert f.attrs["null_pull"] == pytest.approx(info["null_pull"])
        assert f.attrs["null_sigma"] == pytest.approx(null_auc_sigma(100, 300))
    point = {"window": 3.5, "seed": 0, "signal_injected": 0, "signal_sr": 0}
    point |= {"background_sr": 500, "s_over_b": 0.0, "s_over_sqrt_b": 0.0, "fpr_floor": 0.1}
    method = {"max_sic": [1.0, 1.0, 1.0], "max_sic_ensemble": 1.0, "auc": [0.5] * 3, "runs": 2}
    method |= {k: info[k] for k in ("check_auc", "null_pull", "null_sigma")}
    (row,) = summary_rows([{**point, "methods": {"m": method}}])
    assert {"check_auc", "null_pull", "n_check_label1"} <= set(SUMMARY_COLUMNS)
    assert "val_auc" not in SUMMARY_COLUMNS
    assert row["check_auc"] == info["check_auc"] and row["null_pull"] == info["null_pull"]
    assert "| check AUC (null pull) |" in summary_markdown([row])


# --- the data sets of a search point --------------------------------------------------------


SPLIT = {"data": 0.3, "reference": 0.5, "test": 0.2}


def labelled_events(n=40_000, n_signal=2_000, seed=0):
    rng = np.random.default_rng(seed)
    label = np.zeros(n, np.int64)
    label[rng.choice(n, n_signal, replace=False)] = 1
    mjj = np.where(label == 1, rng.normal(3.5, 0.05, n), falling_mjj(n, seed + 1))
    x = rng.normal(0, 1, (n, 2)) + 2.0 * label[:, None]
    return Events(x, mjj, label, ("a", "b"))


def test_partition_is_disjoint_complete_seeded_and_injection_is_nested():
    ev = labelled_events()
    part = partition(ev.label, SPLIT, 0.5, seed=3)
    shares = [*part.background.values(), part.signal_test, part.signal_pool]
    everything = np.concatenate(shares)
    assert len(everything) == len(np.unique(everything)) == len(ev)  # each event once
    n_bkg = (ev.label == 0).sum()
    for share, fraction in SPLIT.items():
        assert len(part.background[share]) == pytest.approx(fraction * n_bkg, abs=1)
        assert (ev.label[part.background[share]] == 0).all()
    assert len(part.signal_test) == 1_000 and (ev.label[part.signal_pool] == 1).all()
    again = partition(ev.label, SPLIT, 0.5, seed=3)
    assert np.array_equal(again.signal_pool, part.signal_pool)
    other = partition(ev.label, SPLIT, 0.5, seed=4)
    assert not np.array_equal(other.background["data"], part.background["data"])
    # A larger injection holds every event of a smaller one, plus exactly the difference.
    small, large = injected_data(ev, part, 300), injected_data(ev, part, 600)
    assert small.label.sum() == 300 and large.label.sum() == 600
    assert len(large) - len(small) == 300
    assert set(map(tuple, small.x)) <= set(map(tuple, large.x))
    assert injected_data(ev, part, 0).label.sum() == 0


def test_injection_beyond_the_pool_and_bad_fractions_name_the_config_key():
    ev = labelled_events()
    part = partition(ev.label, SPLIT, 0.5, seed=0)
    with pytest.raises(GenhepError, match=r"cathode.signal_levels: 1001 .* holds 1000"):
        injected_data(ev, part, 1001)
    with pytest.raises(GenhepError, match=r"cathode.background_split: .* sum to 1.1"):
        partition(ev.label, {"data": 0.4, "reference": 0.5, "test": 0.2}, 0.5, seed=0)


def test_fixed_sets_live_in_the_signal_region_and_keep_test_signal_apart():
    ev = labelled_events()
    regions = Regions(3.3, 3.7, 2.6, 6.0)
    part = partition(ev.label, SPLIT, 0.5, seed=0)
    sets = fixed_sets(ev, part, regions)
    for name, s in sets.items():
        assert regions.signal_region(s.mjj).all(), name
    assert (sets["reference"].label == 0).all() and (sets["signal"].label == 1).all()
    assert sets["test"].label.sum() > 900  # the signal test share that lands in the SR
    short = short_sidebands(ev.mjj, regions, 0.2)
    assert ev.mjj[short].min() >= 3.1 and ev.mjj[short].max() < 3.9
    assert not regions.signal_region(ev.mjj[short]).any()


def test_cathode_needs_labels_and_names_the_file(tmp_path):
    from genhep.io.hdf5 import write_table

    path = tmp_path / "unlabelled.h5"
    write_table(path, {"mjj": np.ones(3), "a": np.ones(3)})
    with pytest.raises(GenhepError, match=r"unlabelled.h5: CATHODE needs truth labels"):
        load_events(path, ["a"])
    write_table(path, {"mjj": np.ones(3), "a": np.ones(3), "label": np.zeros(3)})
    with pytest.raises(GenhepError, match=r"cathode.features: .* no column\(s\) \['b'\]"):
        load_events(path, ["a", "b"])


# --- the data stages, as the workflow runs them -------------------------------------------


def write_labelled_table(path, events):
    from genhep.io.hdf5 import write_table

    write_table(path, events.columns())
    return path


def test_data_stages_write_each_named_file_of_the_point(tmp_path):
    """The fixed and data stages, from one --params document each: every file the rule
    names is written, the fixed sets and the SR data lie in the SR, and the counts name
    the point."""
    from genhep.cathode.files import read_events
    from genhep.cathode.layout import DATA_FILES, FIXED_FILES
    from genhep.cathode.stage_data import STAGE as DATA
    from genhep.cathode.stage_fixed import STAGE as FIXED

    events = {"events": write_labelled_table(tmp_path / "events.h5", labelled_events())}
    search = {"features": ["a", "b"], "mjj_range": [2.6, 6.0], "background_split": SPLIT}
    fixed = {name: tmp_path / "fixed" / file for name, file in FIXED_FILES.items()}
    FIXED({**search, "window": 3.5, "seed": 0}, events, fixed)
    data = {name: tmp_path / "data" / file for name, file in DATA_FILES.items()}
    counts = DATA({**search, "window": 3.5, "seed": 0, "signal": 300}, events, data)
    assert all(path.exists() for path in [*fixed.values(), *data.values()])
    regions = Regions(3.3, 3.7, 2.6, 6.0)
    for path in (fixed["test"], fixed["reference"], fixed["signal"], data["sr_data"]):
        assert regions.signal_region(read_events(path).mjj).all(), path
    assert (counts["window"], counts["seed"], counts["signal_injected"]) == (3.5, 0, 300)
    assert 250 <= counts["signal_sr"] <= 300  # the resonance sits in the SR
    assert counts["sb_train"]["events"] > 3 * counts["sb_val"]["events"]  # val_fraction 0.2


def test_a_stage_refuses_a_params_document_without_its_job_values_or_with_others_keys(tmp_path):
    """The window, seed, signal level and method are the job's, passed by its rule: a
    document without one is refused by name, before anything is read; so is a key of
    another stage, and a scores file without its own method label."""
    from genhep.cathode.stage_data import STAGE as DATA
    from genhep.cathode.stage_evaluate import method_scores
    from genhep.settings.cathode import CathodeEvaluationSettings, ClassifyJobSettings

    with pytest.raises(GenhepError, match=r"cathode: no signal given"):
        DATA({"window": 3.5, "seed": 0}, {"events": tmp_path / "x.h5"}, {})
    with pytest.raises(GenhepError, match=r"cathode.classifier: no method given"):
        ClassifyJobSettings.from_config({"seed": 1})
    # The density device is the density jobs', not the data's: refused by name.
    point = {"window": 3.5, "seed": 0, "signal": 0}
    with pytest.raises(GenhepError, match=r"cathode.density.device: unknown setting"):
        DATA({"density": {"device": "cpu"}, **point}, {}, {})
    two = CathodeEvaluationSettings(methods=["cwola", "cwola"])
    with pytest.raises(GenhepError, match=r"--scores: 2 file\(s\) .* one distinct label"):
        method_scores(two, [tmp_path / "a.h5", tmp_path / "b.h5"])


def test_run_summary_medians_bands_and_floor():
    """Perfect and random scores over several runs: known max SIC, AUC, bands."""
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(1_000), np.zeros(10_000)]
    perfect = np.tile(labels, (5, 1)) + 0.01 * rng.random((5, len(labels)))
    s = run_summary(labels, perfect, np.linspace(0.01, 1, 100), min_background=100)
    assert s["fpr_floor"] == pytest.approx(0.01)
    np.testing.assert_allclose(s["max_sic"], 10.0, rtol=1e-6)  # 1 / sqrt(0.01)
    np.testing.assert_allclose(s["auc"], 1.0)
    random = rng.random((9, len(labels)))
    s = run_summary(labels, random, np.linspace(0.01, 1, 100), min_background=100)
    assert abs(s["auc"][1] - 0.5) < 0.03 and s["auc"][0] <= s["auc"][1] <= s["auc"][2]
    assert 0.9 < s["max_sic"][1] < 1.5  # random: SIC = sqrt(TPR) at best, up to fluctuations
    mid = s["sic"][1][49]  # TPR 0.5: SIC = 0.5 / sqrt(0.5)
    assert mid == pytest.approx(np.sqrt(0.5), rel=0.1)


# --- the background-template check, end to end on the toy -----------------------------------


def toy_events(n_events, seed):
    """LHCO-like toy events (background only) as CATHODE inputs, in memory."""
    from genhep.data.toy import chunk_to_awkward, iter_chunks
    from genhep.features import leading_pair, lhco_features, select_jets
    from genhep.settings.data import ToySettings

    parts = []
    for chunk in iter_chunks(ToySettings(n_events=n_events, signal_fraction=0.0, seed=seed)):
        j1, j2, _ = leading_pair(select_jets(chunk_to_awkward(chunk)["jet"]))
        cols = lhco_features(j1, j2)
        x = np.column_stack([cols[c] for c in ("mj_min", "delta_mj", "tau21_min", "tau21_max")])
        parts.append(Events(x, cols["mjj"], chunk["label"].astype(np.int64), FEATURES))
    return Events.concat(parts)


FEATURES = ("mj_min", "delta_mj", "tau21_min", "tau21_max")


@pytest.mark.slow  # a MAF on 400k events and 3 classifier runs: about a minute
def test_null_template_is_indistinguishable_from_signal_free_data(tmp_path):
    """No signal injected: a MAF trained on the sidebands and interpolated into the SR
    gives a template the classifier cannot tell from the SR data. Its check AUC
    stays within 0.5 ± 0.02: 5 null standard deviations (0.0039 on the 6.8k vs 27k
    check slice), looser than the statistics alone since the density model is small and
    trained briefly (measured: 0.515, pull +3.7)."""
    import json

    from genhep.cathode.interpolation import (
        fit_preprocessor,
        holdout_split,
        model_inputs,
        sample_template,
    )
    from genhep.cathode.stage_data import write_model_inputs
    from genhep.layout import training_outputs
    from genhep.models import load_ensemble
    from genhep.train import STAGE
    from genhep.training import resolve_device

    data = toy_events(400_000, seed=11)
    regions = Regions(3.3, 3.7)
    sr, sb = data.where(regions.signal_region(data.mjj)), data.where(regions.sidebands(data.mjj))
    train_rows, val_rows = holdout_split(len(sb), 0.2, seed=0)
    pre = fit_preprocessor(sb.take(train_rows), ["minmax", "logit", "standardize"])
    split = {"train": tmp_path / "train.h5", "val": tmp_path / "val.h5"}
    write_model_inputs(split["train"], model_inputs(sb.take(train_rows), pre), pre, "sb")
    write_model_inputs(split["val"], model_inputs(sb.take(val_rows), pre), pre, "sb")
    job = {
        "family": "maf",
        "model": {"transforms": 4, "hidden": 64, "layers": 2},
        "train": {"epochs": 12, "batch_size": 512, "lr": 1e-3, "best_k": 3, "patience": 0},
    }
    STAGE(job, split, training_outputs(tmp_path / "maf", tmp_path / "maf.ckpt"))
    device = resolve_device("auto")
    model = load_ensemble(tmp_path / "maf" / "model.pt", device)
    template = sample_template(model, pre, sr, regions, 4, "scott", seed=0, device=device)
    assert len(template) == 4 * len(sr) and regions.signal_region(template.mjj).all()
    settings = ClassifierSettings(epochs=10, batch_size=256, best_epochs=3, runs=3, seed=0)
    result = train_anomaly_classifier(sr.x, template.x, sr.x[:10], settings)
    check = result.null_check()
    print(json.dumps({"n_sr": len(sr), **check}))
    assert abs(check["check_auc"] - 0.5) < 0.02, check
