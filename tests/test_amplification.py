"""The amplification study (arXiv 2008.06545): the metric against its statistics, the
reference fit, one trained family, and the stage scripts.

Numbers behind the thresholds (Q = 10, 100 training points):

* N Q² MSE of a true sample of size N is Pearson's χ² with Q − 1 = 9 degrees of freedom,
  so its amplification / (N / n_train) = 9 / χ²₉: median 1.08, mean 9/7, skewed;
* the 2-Gaussian fit measured 2.4-7.8 per seed (median ~5 over seeds 0-7);
* MAF with the study defaults (last epoch kept) measured 0.56, 1.43, 1.15 at N = 10⁵ on
  seeds 100-102 (training sample 0.45, 0.50, 0.82).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import genhep.amplification.study as study
from conftest import run_script, run_stage
from genhep.amplification.params import (
    STUDY_DEFAULTS,
    TUNING_SEEDS,
    StudySettings,
    check_amplification_config,
    resolve_params,
    seed_list,
    study_params,
)
from genhep.amplification.report import summarise
from genhep.amplification.study import STAGE as AMPLIFY
from genhep.amplification.study import resolve_study, run_family, train_on_camel
from genhep.amplification.truth import (
    amplification_factor,
    camel_cdf,
    camel_quantile_edges,
    camel_sample,
    expected_true_mse,
    fit_two_gaussians,
    quantile_fractions,
    quantile_mse,
)
from genhep.config import validate_config
from genhep.errors import GenhepError
from genhep.models import FAMILIES, build_model
from genhep.models.augmented import Augmented
from genhep.settings.amplification import AmplificationSettings
from genhep.settings.base import as_config, settings_part
from genhep.training import Trainer

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize("q", [10, 7])
def test_quantile_edges_have_equal_true_probability(q):
    edges = camel_quantile_edges(q)
    assert len(edges) == q + 1 and edges[0] == -np.inf and edges[-1] == np.inf
    np.testing.assert_allclose(camel_cdf(edges[1:-1]), np.arange(1, q) / q, atol=1e-9)
    np.testing.assert_allclose(edges[1:-1], -edges[-2:0:-1], atol=1e-9)  # symmetric camel
    fractions = quantile_fractions(camel_sample(1_000_000, np.random.default_rng(0)), edges)
    np.testing.assert_allclose(fractions, 1 / q, atol=1e-3)


@pytest.mark.parametrize(("n", "q"), [(100, 10), (1000, 10), (300, 5)])
def test_true_sample_mse_matches_the_multinomial_expectation(n, q):
    """E[MSE] = (1/Q) Σ_j Var f_j = (Q − 1) / (Q² N), by simulation of 4000 samples."""
    rng = np.random.default_rng(1)
    edges = camel_quantile_edges(q)
    simulated = np.mean([quantile_mse(camel_sample(n, rng), edges) for _ in range(4000)])
    # Relative error of the mean: √(2/(Q−1)) / √4000 ≈ 0.8 % for Q = 10.
    assert simulated == pytest.approx(expected_true_mse(n, q), rel=0.05)


def test_amplification_of_the_expectation_is_exact():
    for n in (100, 1000, 10**6):
        assert amplification_factor(expected_true_mse(n, 10), 10, 100) == pytest.approx(n / 100)


@pytest.mark.parametrize("n", [1000, 10_000])
def test_true_sample_of_size_n_amplifies_by_n_over_n_train(n):
    rng = np.random.default_rng(2)
    edges = camel_quantile_edges(10)
    ratios = [
        amplification_factor(quantile_mse(camel_sample(n, rng), edges), 10, 100) / (n / 100)
        for _ in range(300)
    ]
    assert 0.8 < np.median(ratios) < 1.4  # 9 / median(χ²₉) = 1.08
    assert 0.5 < np.exp(np.mean(np.log(ratios))) < 2


def test_two_gaussian_fit_amplifies():
    """A fit of the right form, 5 parameters, is worth more than its 100 points."""
    edges = camel_quantile_edges(10)
    fit_amp, train_amp = [], []
    for seed in range(8):
        x = camel_sample(100, np.random.default_rng(seed))
        fit = fit_two_gaussians(x, seed)
        assert fit.mu1 < 0 < fit.mu2 and 0 < fit.weight < 1
        sample = fit.sample(200_000, np.random.default_rng([seed, 1]))
        fit_amp.append(amplification_factor(quantile_mse(sample, edges), 10, 100))
        train_amp.append(amplification_factor(quantile_mse(x, edges), 10, 100))
    print(f"fit amplification {np.round(fit_amp, 2)}, training sample {np.round(train_amp, 2)}")
    assert np.median(fit_amp) > 1.5
    assert np.median(fit_amp) > np.median(train_amp)


def test_params_fall_back_to_the_family_defaults_and_are_checked():
    p = resolve_params("maf", {"seeds": 3, "train": {"epochs": 7}})
    assert p["seeds"] == [100, 101, 102] and p["train"]["epochs"] == 7
    assert p["train"]["lr"] == 3e-3
    assert p["augment"] == 1 and p["standardize"] is True and p["quantiles"] == 10
    assert p["n_generated"][-1] == 1_000_000
    assert resolve_study("maf", {"seeds": 3, "train": {"epochs": 7}}) == p
    for bad, match in [
        ({"seeds": 0}, "seeds must be"),
        ({"first_seed": -1}, "first_seed must be an integer >= 0"),
        ({"seed": 3}, r"unknown key\(s\) \['seed'\]"),
        ({"n_generated": []}, "n_generated must be"),
        ({"train": {"epoch": 3}}, r"train: unknown setting\(s\) \['epoch'\]"),
    ]:
        for resolve in (resolve_params, resolve_study):
            with pytest.raises(GenhepError, match=match):
                resolve("maf", bad)
    # The model hyperparameters need a model built (torch): only the study checks them.
    assert resolve_params("maf", {"model": {"hiden": 3}})["model"]["hiden"] == 3
    with pytest.raises(GenhepError, match="model: maf: unknown hyperparameter"):
        resolve_study("maf", {"model": {"hiden": 3}})
    for resolve in (resolve_params, resolve_study):
        with pytest.raises(GenhepError, match="unknown family"):
            resolve("gann", {})


def test_study_settings_are_the_resolved_params_of_the_jobs_family():
    """The amplify stage's settings: its family (the job's) and that family's settings
    resolved, in the order the results record them; an unknown key is named."""
    given = {"seeds": 3, "train": {"epochs": 7}}
    settings = StudySettings.from_config({"family": "maf", **given})
    assert settings.family == "maf" and settings.params() == resolve_params("maf", given)
    assert list(settings.params()) == list(resolve_params("maf", given))
    assert StudySettings.from_config({"family": "maf", **settings.params()}) == settings
    with pytest.raises(GenhepError, match=r"unknown key\(s\) \['sed'\]"):
        StudySettings.from_config({"family": "maf", "sed": 1})
    with pytest.raises(GenhepError, match="no family given"):
        StudySettings.from_config({"seeds": 3})


def test_an_empty_config_section_runs_the_library_defaults():
    """The schema's defaults of the shared study keys (seeds, first_seed, n_train, ...)
    are the library's (``resolve_params``): a config that sets none runs, per family,
    what ``run_family`` with no settings runs."""
    config = {}
    validate_config(config, SCHEMA)
    section = config["amplification"]
    # written once, in the settings class: the YAML schema does not repeat them
    assert settings_part(AmplificationSettings, section) == as_config(AmplificationSettings())
    written = yaml.safe_load(SCHEMA.read_text())["properties"]["amplification"]["properties"]
    assert "seeds" not in written and "n_generated" not in written
    for family in STUDY_DEFAULTS:
        assert resolve_params(family, study_params(section, family)) == resolve_params(family, {})


def test_the_study_knows_every_family_and_no_other():
    """params checks family names against STUDY_DEFAULTS (no torch): the same names, in
    the same order (the error messages list them), as the model registry."""
    assert list(STUDY_DEFAULTS) == list(FAMILIES)


def test_the_settings_module_imports_no_torch():
    """The workflow's start-up check imports it: it must stay fast."""
    code = "import sys, genhep.amplification.params; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_section_is_checked_at_start_up_naming_the_key():
    check_amplification_config({"families": ["gan", "maf"], "train": {"epochs": 5}})
    with pytest.raises(GenhepError, match=r"key amplification.families\[1\]: unknown family"):
        check_amplification_config({"families": ["gan", "gann"]})
    with pytest.raises(GenhepError, match="key amplification.overrides.vae: .*'epoch'"):
        check_amplification_config(
            {"families": ["vae"], "overrides": {"vae": {"train": {"epoch": 1}}}}
        )


def test_config_model_hyperparameters_are_checked_at_start_up():
    with pytest.raises(GenhepError, match="key amplification.overrides.vae.model: .*'hiden'"):
        check_amplification_config(
            {"families": ["vae"], "overrides": {"vae": {"model": {"hiden": 1}}}}
        )


def test_augmented_model_samples_the_data_dimensions_only():
    torch.manual_seed(0)
    model = Augmented(build_model("maf", 2, 0, {"transforms": 2, "hidden": 8}), 1)
    assert model.family == "maf" and model.n_features == 1
    assert model.sample(5).shape == (5, 1)
    opt = model.configure_optimizers(1e-3)
    assert torch.isfinite(model.training_step(torch.randn(10, 1), None, opt)["loss"])


def test_default_seeds_are_not_the_tuning_seeds():
    """STUDY_DEFAULTS were tuned on seeds 0-9: neither the default run's seeds (the config's
    count) nor the library's default count may reuse them."""
    section = yaml.safe_load(CONFIG.read_text())["amplification"]
    for family in section["families"]:
        seeds = resolve_params(family, study_params(section, family))["seeds"]
        assert seeds == list(range(100, 100 + section["seeds"]))
        assert not set(seeds) & set(TUNING_SEEDS)
    assert resolve_params("gan", {})["seeds"] == list(range(100, 110))
    assert seed_list(3, first_seed=0) == [0, 1, 2]  # the old seeds, on request
    assert resolve_params("gan", {"seeds": [4, 2]})["seeds"] == [4, 2]  # a list as given


def test_camel_training_keeps_the_last_epoch_not_the_best_fit(monkeypatch):
    """The fixed budget: the returned model carries the weights after the last optimiser
    step, although an earlier epoch fitted the training points better (the old criterion
    picked that epoch)."""
    spies = []

    class Spy(Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.on_step = self.record  # called after every optimiser step
            spies.append(self)

        def record(self, step):
            self.last_state = {k: v.clone() for k, v in self.model.state_dict().items()}

        def fit(self, *args):
            self.result = super().fit(*args)
            return self.result

    monkeypatch.setattr(study, "Trainer", Spy)
    x = camel_sample(100, np.random.default_rng(3))
    settings = {"epochs": 60, "batch_size": 25, "lr": 1e-2}
    trained = train_on_camel("maf", x, settings, {"transforms": 2, "hidden": 16}, seed=3)
    (spy,) = spies
    losses = [h["val_loss"] for h in spy.result.history]
    assert len(losses) == 60
    # Without this the test could not tell the criteria apart: the loss on the training
    # points (the old selection criterion) is lowest at an earlier epoch (37 of 60).
    assert int(np.argmin(losses)) < 59
    final = trained.model.state_dict()
    assert final.keys() == spy.last_state.keys()
    assert all(torch.equal(final[k], spy.last_state[k]) for k in final)


@pytest.mark.slow
def test_trained_flow_beats_its_training_sample():
    """MAF on 100 points: its 10⁵ generated points have a lower quantile MSE than the 100."""
    result = run_family("maf", seeds=3, n_generated=[1000, 100_000])
    model_mse = [s["model_mse"][-1] for s in result["seeds"]]
    train_mse = [s["train_mse"] for s in result["seeds"]]
    print(f"maf: generated {np.round(model_mse, 6)}, training {np.round(train_mse, 6)}")
    assert np.mean(model_mse) < np.mean(train_mse)
    assert result["summary"]["model"]["median"] > 1
    assert all(s["generated_finite"] for s in result["seeds"])


@pytest.mark.slow
def test_amplify_and_summary_scripts(tmp_path):
    out = tmp_path / "amplification" / "nsf.json"
    params = {"family": "nsf", "seeds": 2, "n_generated": [100, 1000, 10_000]}
    params["train"] = {"epochs": 100}
    done = run_script("amplify", "--params", json.dumps(params), "--result", out)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["family"] == "nsf" and result["n_generated"] == [100, 1000, 10_000]
    assert result["settings"]["train"] == {"epochs": 100, "batch_size": 100, "lr": 1e-2}
    assert [s["seed"] for s in result["seeds"]] == [100, 101]  # past the tuning seeds
    for s in result["seeds"]:
        assert len(s["model_mse"]) == len(s["fit_mse"]) == 3
        assert s["amplification"] == pytest.approx(
            amplification_factor(s["model_mse"][-1], 10, 100)
        )
    np.testing.assert_allclose(result["expected_true_mse"], [9e-4, 9e-5, 9e-6])

    table, md, plot = tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "q.png"
    done = run_script(
        "amplification_summary", "--results", out, "--csv", table, "--md", md, "--plot", plot
    )
    assert done.returncode == 0, done.stderr
    assert [r["name"] for r in summarise([result])] == ["nsf", "2-Gaussian fit", "training sample"]
    assert table.read_text().splitlines()[0].startswith("name,seeds,amplification_median")
    assert "| 2-Gaussian fit | 2 |" in md.read_text()
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"seeds": 0}, "seeds must be a count 1..100"),
        ({"model": {"hiden": 8}}, "unknown hyperparameter"),
        ({"seed": 3}, "unknown key(s) ['seed']"),
        ({"family": None}, "no family given"),
    ],
)
def test_bad_params_give_one_error_line_and_no_output(tmp_path, params, message):
    out = tmp_path / "gan.json"
    params = {"family": "gan", **params}
    done = run_stage(AMPLIFY, "--params", json.dumps(params), "--result", out)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genhep amplify: error:")
    assert message in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []
