"""CATHODE's tree-ensemble classifier (``cathode.classifier.kind: hgb``) and the
uninformative noise features of the robustness study (``noise_features``)."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from conftest import REPO
from genhep.cathode import classifier
from genhep.cathode.classifier import (
    check_slice,
    noise_features,
    run_split,
    train_anomaly_classifier,
    with_noise_features,
)
from genhep.cathode.sic import null_auc_sigma
from genhep.config import validate_config
from genhep.errors import GenhepError
from genhep.settings.cathode import ClassifierSettings

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
HGB = ClassifierSettings(kind="hgb", runs=2, seed=1)


def gaussians(n, shift, seed, dim=3):
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def held_out_auc(result, test_label1, test_label0):
    labels = np.r_[np.ones(len(test_label1)), np.zeros(len(test_label0))]
    return roc_auc_score(labels, result.scores.mean(0))


# --- the tree ensemble ----------------------------------------------------------------------


def test_hgb_separates_a_shifted_sample():
    """Label 1 shifted by 1.5 in each of 3 dimensions (the optimal AUC is Φ(|Δ|/√2) with
    |Δ| = 1.5√3, ≈ 0.97): held out, the ensemble's mean score reaches AUC > 0.9."""
    x1, x0 = gaussians(2_000, 1.5, 0), gaussians(2_000, 0.0, 1)
    t1, t0 = gaussians(2_000, 1.5, 2), gaussians(2_000, 0.0, 3)
    result = train_anomaly_classifier(x1, x0, np.vstack([t1, t0]), HGB)
    auc = held_out_auc(result, t1, t0)
    print(f"hgb held-out AUC {auc:.4f} (optimal 0.97)")
    assert auc > 0.9
    assert result.null_check()["check_auc"] > 0.9


def test_hgb_learns_nothing_from_identical_samples():
    """Both labels from one density: the held-out AUC stays at 0.5 (4k vs 4k: its
    spread is ≈ 0.0065; allowed ±0.05), and so does the check slice's, in pulls."""
    x1, x0 = gaussians(3_000, 0.0, 4), gaussians(3_000, 0.0, 5)
    t1, t0 = gaussians(4_000, 0.0, 6), gaussians(4_000, 0.0, 7)
    result = train_anomaly_classifier(x1, x0, np.vstack([t1, t0]), HGB)
    assert abs(held_out_auc(result, t1, t0) - 0.5) < 0.05
    assert abs(result.null_check()["null_pull"]) < 4


def test_hgb_is_deterministic_for_a_seed():
    x1, x0 = gaussians(800, 0.5, 8), gaussians(800, 0.0, 9)
    test = gaussians(50, 0.0, 10)
    first, again = (train_anomaly_classifier(x1, x0, test, HGB) for _ in range(2))
    assert np.array_equal(first.scores, again.scores)
    assert np.array_equal(first.check_scores, again.check_scores)
    assert np.array_equal(first.selection_auc, again.selection_auc)
    other = train_anomaly_classifier(x1, x0, test, ClassifierSettings(kind="hgb", runs=2, seed=2))
    assert not np.array_equal(first.scores, other.scores)


def test_hgb_fills_the_result_as_the_mlp_does(monkeypatch):
    """The same check slice, labels and shapes as the MLP's result, so the null check
    and the scores file mean the same; each run fits on its ``run_split`` training rows
    and stops early on its epoch-choice rows, with the MLP's balanced class weights."""
    rng = np.random.default_rng(11)
    x1, x0 = rng.normal(size=(600, 3)), rng.normal(size=(2_400, 3))
    test = rng.normal(size=(7, 3))
    fits = []
    fit = HistGradientBoostingClassifier.fit

    def recording_fit(self, X, y, sample_weight=None, **kw):
        fits.append((X, y, sample_weight, kw))
        return fit(self, X, y, sample_weight=sample_weight, **kw)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", recording_fit)
    s = ClassifierSettings(kind="hgb", runs=3, seed=0)
    hgb = train_anomaly_classifier(x1, x0, test, s)
    mlp = train_anomaly_classifier(
        x1, x0, test, ClassifierSettings(epochs=1, best_epochs=1, runs=3, seed=0, device="cpu")
    )
    assert hgb.scores.shape == mlp.scores.shape == (3, 7)
    assert hgb.check_scores.shape == mlp.check_scores.shape == (3, 600)
    assert np.array_equal(hgb.check_index, mlp.check_index)
    assert np.array_equal(hgb.check_labels, mlp.check_labels)
    assert hgb.selection_auc.shape == hgb.check_auc_per_run.shape == (3,)
    check = hgb.null_check()
    assert set(check) == set(mlp.null_check())
    assert (check["n_check_label1"], check["n_check_label0"]) == (120, 480)
    assert check["null_sigma"] == pytest.approx(null_auc_sigma(120, 480), rel=1e-12)
    auc = roc_auc_score(hgb.check_labels, hgb.check_scores.mean(0))
    assert check["check_auc"] == pytest.approx(auc, abs=1e-12)

    x = np.vstack([x1, x0]).astype(np.float32)
    y = np.r_[np.ones(600), np.zeros(2_400)]
    assert len(fits) == 3
    for run, (X, labels, weight, kw) in enumerate(fits):
        train, select = run_split(len(y), check_slice(y, s), s, run)
        assert np.array_equal(X, x[train]) and np.array_equal(kw["X_val"], x[select])
        assert np.array_equal(labels, y[train]) and np.array_equal(kw["y_val"], y[select])
        # Balanced on all events: label 1 weighs 3000 / 1200, label 0 3000 / 4800.
        assert np.allclose(weight, np.where(y[train] == 1, 2.5, 0.625))
        assert np.allclose(kw["sample_weight_val"], np.where(y[select] == 1, 2.5, 0.625))


# --- the noise features ---------------------------------------------------------------------


def test_noise_features_are_seeded_standard_normal_and_follow_the_event():
    x = gaussians(20_000, 0.0, 12, dim=4).astype(np.float32)
    noise = noise_features(x, 5, seed=3)
    assert noise.shape == (20_000, 5)
    assert np.allclose(noise.mean(0), 0, atol=0.03) and np.allclose(noise.std(0), 1, atol=0.02)
    assert np.abs(np.corrcoef(np.hstack([x, noise]).T) - np.eye(9)).max() < 0.04
    assert np.array_equal(noise, noise_features(x, 5, seed=3))  # seeded
    assert not np.allclose(noise, noise_features(x, 5, seed=4))
    # Per event: the same event gets the same noise in any set, row or dtype, and K
    # columns are the first K of more.
    order = np.random.default_rng(0).permutation(20_000)[:300]
    assert np.array_equal(noise_features(x[order].astype(np.float64), 5, 3), noise[order])
    assert np.array_equal(noise_features(x, 2, 3), noise[:, :2])


def test_noise_columns_reach_the_models_and_none_leaves_the_inputs_as_they_are(monkeypatch):
    seen = []

    def spy(x_label1, x_label0, x_test, s):
        seen.append((x_label1, x_label0, x_test))

    for kind in ("mlp", "hgb"):
        monkeypatch.setitem(classifier.CLASSIFIERS, kind, spy)
    x1, x0, test = gaussians(40, 0.0, 13), gaussians(60, 0.0, 14), gaussians(5, 0.0, 15)
    for kind in ("mlp", "hgb"):
        train_anomaly_classifier(x1, x0, test, ClassifierSettings(kind=kind, noise_features=0))
        # no noise: the very arrays given
        assert all(a is b for a, b in zip(seen.pop(), (x1, x0, test), strict=True))
        s = ClassifierSettings(kind=kind, noise_features=10, seed=7)
        train_anomaly_classifier(x1, x0, test, s)
        for given, original in zip(seen.pop(), (x1, x0, test), strict=True):
            assert given.shape == (len(original), 3 + 10)
            assert np.array_equal(given[:, :3], original)
            assert np.array_equal(given[:, 3:], noise_features(original, 10, 7))
    assert with_noise_features(x1, ClassifierSettings()) is x1


def test_hgb_and_mlp_train_with_noise_features():
    x1, x0 = gaussians(500, 1.0, 16), gaussians(500, 0.0, 17)
    for kind in ("hgb", "mlp"):
        s = ClassifierSettings(kind=kind, noise_features=5, runs=1, epochs=2, best_epochs=1)
        result = train_anomaly_classifier(x1, x0, x1[:4], s)
        assert result.scores.shape == (1, 4) and np.isfinite(result.scores).all()


# --- the MLP, untouched ----------------------------------------------------------------------


def test_mlp_result_is_unchanged():
    """Pinned before the tree ensemble and the noise features were added (same machine:
    bit-identical; the tolerance only spares another CPU's float rounding; any change of
    a random draw or its order moves these by ~1e-2)."""
    rng = np.random.default_rng(7)
    x1 = rng.normal(size=(120, 3)) + np.array([0.5, 0.0, 0.0])
    x0 = rng.normal(size=(240, 3))
    test = rng.normal(size=(4, 3))
    s = ClassifierSettings(
        hidden=8, layers=2, epochs=3, batch_size=32, best_epochs=2, runs=2, seed=5, device="cpu"
    )
    result = train_anomaly_classifier(x1, x0, test, s)
    pinned = [
        [0.5680264830589294, 0.5759319067001343, 0.5825467109680176, 0.5684146881103516],
        [0.4265512526035309, 0.4442097842693329, 0.5175000429153442, 0.42634648084640503],
    ]
    assert result.scores.dtype == np.float32
    np.testing.assert_allclose(result.scores, np.array(pinned, dtype=np.float32), rtol=1e-6)
    np.testing.assert_allclose(result.selection_auc, [0.6626984126984127, 0.6], rtol=1e-12)
    check = result.null_check()
    assert check["check_auc"] == pytest.approx(0.609375, rel=1e-12)
    assert (check["n_check_label1"], check["n_check_label0"]) == (24, 48)


# --- the settings ----------------------------------------------------------------------------


def test_classifier_kind_and_noise_features_are_checked_with_their_key():
    config = {"cathode": {"classifier": {"kind": "forest"}}}
    with pytest.raises(GenhepError, match=r"key cathode\.classifier\.kind: 'forest' is not one"):
        validate_config(config, SCHEMA)
    with pytest.raises(GenhepError, match=r"key cathode\.classifier\.noise_features"):
        validate_config({"cathode": {"classifier": {"noise_features": -1}}}, SCHEMA)
    with pytest.raises(GenhepError, match=r"config key cathode\.classifier\.kind: 'forest'"):
        ClassifierSettings(kind="forest")  # a --params document skips the schema
    config = {}
    validate_config(config, SCHEMA)
    section = config["cathode"]["classifier"]
    assert (section["kind"], section["noise_features"]) == ("mlp", 0)
    assert (section["hgb_max_iter"], section["hgb_learning_rate"]) == (200, 0.1)
    assert section["hgb_max_leaf_nodes"] == 31
    assert ClassifierSettings.from_config(section) == ClassifierSettings()  # defaults agree
