"""End-to-end: the Snakemake workflow on a tiny config in a temporary directory."""

import contextlib
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from conftest import REPO, env_with_venv
from genhep.contracts import load_split
from genhep.io.hdf5 import read_table
from genhep.models import FAMILIES, load_model
from genhep.transforms import Preprocessor

pytestmark = pytest.mark.slow

# The tiny run of the catalog's test layout (.test/config/config.yaml): every stage and
# family at sizes that take a few minutes; the tests below run it and variants of it.
TINY = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
# The CATHODE branch of TINY: 2 signal levels, one window, seed and family, 5 methods.
CATHODE_CLASSIFIERS = {
    "cathode_classify": 2,
    "cathode_baseline": 4,
    "cathode_supervised": 1,
    "cathode_evaluate": 2,
    "cathode_summary": 1,
}
CATHODE_JOBS = {
    "cathode_ingest": 1,
    "cathode_fixed": 1,
    "cathode_data": 2,
    "cathode_density": 4,  # SB (CATHODE) and SR (ANODE) models
    "cathode_template": 2,
    "cathode_anode": 2,
    **CATHODE_CLASSIFIERS,
}


def downstream_of_training(n):
    """The jobs that follow retraining ``n`` families."""
    return {"train": n, "sample": 2 * n, "gather_samples": n, "evaluate": n, "leaderboard": 1}


def checkout_of(workdir):
    """The copy of the repository a run directory belongs to (see ``finished_run``), else
    the repository itself."""
    marker = workdir / ".checkout"
    return Path(marker.read_text()) if marker.exists() else REPO


def snakemake(workdir, config, *args):
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    repo = checkout_of(workdir)
    env = env_with_venv()
    if repo != REPO:  # the stages import the copy's library, as they would a user's clone
        env["PYTHONPATH"] = str(repo / "src")
    return subprocess.run(
        [
            Path(sys.executable).parent / "snakemake",
            "--snakefile",
            repo / "workflow" / "Snakefile",
            "--directory",
            workdir,
            "--configfile",
            workdir / "run.yaml",
            "--cores",
            "2",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
    )


def copy_repository(dest):
    """The repository's files (tracked and new, not ignored) copied to ``dest``: tests that
    edit the code edit this copy, never the repository."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        cwd=REPO,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())
    return dest


@contextlib.contextmanager
def edited(path, addition="\n# an edit\n"):
    """``path`` with a line appended, restored (content and times) afterwards. Only in a
    copy of the repository: a test never edits a file of the repository it runs from."""
    assert not path.resolve().is_relative_to(REPO.resolve()), f"{path} is in the repository"
    text, stat = path.read_text(), path.stat()
    try:
        path.write_text(text + addition)
        yield path
    finally:
        path.write_text(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def planned_jobs(result):
    """Rule -> count from the 'Job stats' table of a dry run."""
    if "Nothing to be done" in result.stdout + result.stderr:
        return {}
    table = (result.stdout + result.stderr).split("Job stats:")[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if m[0] != "total"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """The TINY run, done from a copy of the repository (tests below edit its code)."""
    checkout = copy_repository(tmp_path_factory.mktemp("checkout"))
    workdir = tmp_path_factory.mktemp("wf")
    (workdir / ".checkout").write_text(str(checkout))
    result = snakemake(workdir, TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_effective_config_is_the_configfile_plus_schema_defaults(finished_run):
    text = (finished_run / "results" / "config.effective.yaml").read_text()
    effective = yaml.safe_load(text)
    assert str(finished_run / "run.yaml") in text  # which file it came from
    assert effective["toy"]["n_events"] == TINY["toy"]["n_events"]  # the run's own value
    assert effective["cathode"]["density"]["train"]["epochs"] == 3
    assert effective["cathode"]["enabled"] is True  # auto, resolved: the toy has labels
    # Keys the run's file leaves out: the schema's defaults, not config/config.yaml's.
    assert effective["families"]["gan"]["model"] == {"hidden": 16}  # config.yaml: 3 keys
    assert effective["cathode"]["classifier"]["lr"] == 1e-3
    assert effective["sample"]["device"] == "auto" and effective["files"]["datasets"] is None


def test_outputs_columns_counts_and_attributes(finished_run):
    res = finished_run / "results"
    assert (res / "data" / "toy.root").exists()
    data, attrs = read_table(res / "features" / "events.h5")
    assert list(data) == ["mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max", "label"]
    assert attrs["events_read"] == attrs["events_kept"] == 6000
    assert data["label"].sum() == 300
    assert attrs["source_files"] == [str((res / "data" / "toy.root").resolve())]
    assert attrs["tree"] == "events" and attrs["chunk_size"] == 2500
    sizes = {}
    pre = Preprocessor.load(res / "preprocessed" / "transform.json")
    for split in ("train", "val", "test"):
        s = load_split(res / "preprocessed" / f"{split}.h5")
        sizes[split] = len(s["features"]) + s["attrs"]["dropped_out_of_range"]
        assert s["features"].shape[1] == 4 and s["context"].shape[1] == 1
        x = pre.features.inverse(s["features"])
        np.testing.assert_allclose(x[:, 0], data["mj_min"][s["row"]], rtol=1e-6)
        np.testing.assert_allclose(
            pre.context.inverse(s["context"])[:, 0], data["mjj"][s["row"]], rtol=1e-6
        )
    assert sizes == {"train": 3600, "val": 1200, "test": 1200}
    for log in ("generate_toy", "ingest", "preprocess"):
        assert (res / "logs" / f"{log}.log").stat().st_size > 0
        assert (res / "benchmarks" / f"{log}.tsv").exists()


def test_every_family_trained_with_weights_history_and_plot(finished_run):
    for family in FAMILIES:
        outdir = finished_run / "results" / "models" / family
        info = json.loads((outdir / "training.json").read_text())
        assert info["family"] == family and info["epochs_run"] == 2 and info["n_train"] == 3600
        assert info["device"] == "cpu" and info["training_seconds"] > 0
        assert (outdir / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
        assert (outdir / "loss.png").read_bytes()[:4] == b"\x89PNG"
        assert json.loads((outdir / "hparams.json").read_text())["model"]["hidden"] == 16
        model, payload = load_model(outdir / "model.pt")
        assert model.family == family and payload["info"]["best_epoch"] in (0, 1)
        assert not (finished_run / "results" / "checkpoints" / f"{family}.pt").exists()


def test_leaderboard_has_every_family_and_every_metric(finished_run):
    ev = finished_run / "results" / "evaluation"
    with open(ev / "leaderboard.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["family"] for r in rows] == ["truth vs truth", *FAMILIES]
    metric_keys = [k for k in rows[0] if k.startswith(("auc_", "fpd", "kpd", "w1_", "ks_", "td_"))]
    metric_keys += ["corr_max", "corr_frobenius"]
    assert {"auc_gbdt", "auc_mlp", "fpd", "fpd_err", "kpd", "kpd_err", "w1_mjj"} <= set(metric_keys)
    for r in rows:
        for key in metric_keys:
            assert math.isfinite(float(r[key])), (r["family"], key)
    truth, families = rows[0], {r["family"]: r for r in rows[1:]}
    assert abs(float(truth["auc_gbdt"]) - 0.5) < 0.1  # two halves of the same data
    for family, r in families.items():
        assert float(r["training_seconds"]) > 0 and float(r["sample_events_per_second"]) > 0
        assert r["training_device"] == r["sample_device"] == "cpu"
        has_nll = FAMILIES[family].has_log_prob or family == "vae"
        assert (r["nll_preprocessed"] != "") == (r["nll_physical"] != "") == has_nll, family
        assert int(r["unphysical_events"]) == 0, family  # physical by construction
        # mjj is the context, drawn from the same pool as the truth-vs-truth row.
        assert float(r["w1_mjj"]) == pytest.approx(float(truth["w1_mjj"]), rel=1e-9)
    md = (ev / "leaderboard.md").read_text()
    assert md.count("\n| ") >= 2 * (len(FAMILIES) + 1)
    assert "| truth vs truth |" in md and "nan" not in md.lower()
    for plot in ["comparison_features.png", "comparison_metrics.png"] + [
        f"{f}/{name}.png" for f in FAMILIES for name in ("features", "correlation")
    ]:
        assert (ev / plot).read_bytes()[:4] == b"\x89PNG", plot
    # Shards are temporary: only the gathered sample stays, with 2 x 400 events.
    samples = finished_run / "results" / "samples"
    assert sorted(p.name for p in samples.iterdir()) == sorted(f"{f}.h5" for f in FAMILIES)


def test_amplification_study_table_and_plot(finished_run):
    out = finished_run / "results" / "amplification"
    with open(out / "amplification.csv") as f:
        rows = {r[next(iter(r))]: r for r in csv.DictReader(f)}
    assert {"maf", "cfm"} <= set(rows) and len(rows) == 4  # + the fit and the training sample
    for name, row in rows.items():
        numbers = [float(v) for k, v in row.items() if k.startswith("amplification") and v]
        assert numbers and all(math.isfinite(v) and v > 0 for v in numbers), name
    assert (out / "quantile_mse.png").read_bytes()[:4] == b"\x89PNG"
    assert "maf" in (out / "amplification.md").read_text()


def test_report_builds_with_every_plot(finished_run):
    result = snakemake(finished_run, TINY, "--report", "report.html")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (finished_run / "report.html").read_text(errors="replace")
    assert len(html) > 100_000
    for family in FAMILIES:
        assert family in html
    for caption in ("truth-vs-truth", "ratio", "camel back"):
        assert caption in html


def test_rerun_is_a_no_op_and_params_rerun_only_what_they_touch(finished_run):
    n = len(FAMILIES)
    assert planned_jobs(snakemake(finished_run, TINY, "-n")) == {}
    after_preprocess = {"evaluate_truth": 1, **downstream_of_training(n), "all": 1}
    changed = {**TINY, "preprocess": {"seed": 99}}
    expected = {"preprocess": 1, **after_preprocess}
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == expected
    # The selection applies to CATHODE's toy too: its branch reruns from ingestion.
    changed = {**TINY, "ingest": {"chunk_size": 2500, "selection": {"mjj_min": 2.6}}}
    expected = {"ingest": 1, "preprocess": 1, **after_preprocess, **CATHODE_JOBS}
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == expected
    changed = {**TINY, "toy": {**TINY["toy"], "seed": 4}}
    expected = {"generate_toy": 1, "ingest": 1, "preprocess": 1, **after_preprocess}
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == expected
    # One family's hyperparameter: that family's training, sampling and evaluation only.
    families = {**TINY["families"], "vae": {"model": {"hidden": 16, "beta": 0.5}}}
    result = snakemake(finished_run, {**TINY, "families": families}, "-n")
    assert planned_jobs(result) == {**downstream_of_training(1), "all": 1}
    jobs = re.findall(r"wildcards: family=(\w+)", result.stdout)
    assert jobs == ["vae"] * 5, jobs  # train, 2 sample shards, gather, evaluate
    # A shared training setting: every family.
    result = snakemake(finished_run, {**TINY, "train": {**TINY["train"], "lr": 0.002}}, "-n")
    assert planned_jobs(result) == {**downstream_of_training(n), "all": 1}
    # Resources change no result: nothing reruns.
    changed = {**TINY, "train": {**TINY["train"], "mem_mb": 9000, "threads": 2}}
    changed["evaluate"] = {**TINY["evaluate"], "runtime": 30}
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == {}
    # An evaluation setting: the evaluations and the leaderboard, no training or sampling.
    changed = {**TINY, "evaluate": {"folds": 4}}
    expected = {"evaluate_truth": 1, "evaluate": n, "leaderboard": 1, "all": 1}
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == expected


def test_script_edits_rerun_their_rules_and_touches_rerun_nothing(finished_run):
    """Stage scripts are inputs of their rules; inputs are checksummed, so only a change
    of content counts, not a new modification time."""
    script = checkout_of(finished_run) / "workflow" / "scripts" / "leaderboard.py"
    stat = script.stat()
    os.utime(script)  # touched, unchanged
    assert planned_jobs(snakemake(finished_run, TINY, "-n")) == {}
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with edited(script):
        assert planned_jobs(snakemake(finished_run, TINY, "-n")) == {"leaderboard": 1, "all": 1}
    for data in ("features/events.h5", "preprocessed/transform.json", "models/vae/model.pt"):
        os.utime(finished_run / "results" / data)  # touched, unchanged
    assert planned_jobs(snakemake(finished_run, TINY, "-n")) == {}


def test_library_edits_rerun_the_stages_that_import_them_and_no_others(finished_run):
    src = checkout_of(finished_run) / "src" / "genhep"
    # One family's model: that family's training, sampling and evaluation, the leaderboard.
    with edited(src / "models" / "gan.py"):
        result = snakemake(finished_run, TINY, "-n")
    assert planned_jobs(result) == {**downstream_of_training(1), "all": 1}
    assert set(re.findall(r"wildcards: family=(\w+)", result.stdout)) == {"gan"}
    assert "src/genhep/models/gan.py" in result.stdout  # the reason Snakemake gives
    # The metrics: every evaluation (truth-vs-truth too) and the leaderboard, nothing else.
    with edited(src / "metrics" / "frechet.py"):
        result = snakemake(finished_run, TINY, "-n")
    n = len(FAMILIES)
    assert planned_jobs(result) == {"evaluate_truth": 1, "evaluate": n, "leaderboard": 1, "all": 1}
    # The CATHODE classifier: its stages and what follows them; no density, no template.
    with edited(src / "cathode" / "classifier.py"):
        result = snakemake(finished_run, TINY, "-n")
    assert planned_jobs(result) == {**CATHODE_CLASSIFIERS, "all": 1}
    # The time embedding lives in models/base.py: a diffusion edit reruns diffusion only
    # (flow matching, which shares the embedding, imports it from base, not diffusion).
    with edited(src / "models" / "diffusion.py"):
        result = snakemake(finished_run, TINY, "-n")
    families = set(re.findall(r"wildcards: family=(\w+)", result.stdout))
    assert families == {"diffusion"}, families
    assert planned_jobs(result) == {**downstream_of_training(1), "all": 1}
    assert planned_jobs(snakemake(finished_run, TINY, "-n")) == {}


def test_cathode_branch_curves_plots_and_summary(finished_run):
    out = finished_run / "results" / "cathode"
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    methods = {"cathode_maf", "idealized", "supervised", "cwola", "anode_maf"}
    assert {r["method"] for r in rows} == methods and len(rows) == 10  # 5 methods x 2 levels
    by = {(r["method"], int(r["signal_injected"])): r for r in rows}
    assert int(by["cathode_maf", 0]["signal_sr"]) == 0
    assert 280 <= int(by["cathode_maf", 300]["signal_sr"]) <= 300  # the resonance is in the SR
    for r in rows:
        assert float(r["max_sic_16"]) <= float(r["max_sic_median"]) <= float(r["max_sic_84"])
        assert 0.0 < float(r["fpr_floor"]) < 0.1
    # 300 signal in ~2k SR background: the labelled baseline finds it (random gives ~1).
    assert float(by["supervised", 300]["max_sic_median"]) > 2.0
    point = out / "sr3.50" / "seed0" / "s300"
    with h5py.File(point / "curves.h5", "r") as f:
        tpr = f["tpr"][...]
        for method in methods:
            sic = f[method]["sic"][...]
            assert sic.shape == (3, len(tpr))  # 16%, median, 84% over runs
            finite = np.isfinite(sic[1])
            assert finite.sum() > len(tpr) // 2, method
            assert (sic[0][finite] <= sic[2][finite] + 1e-9).all()
    for plot in ("sic.png", "rejection.png"):
        assert (point / plot).read_bytes()[:4] == b"\x89PNG"
    assert (out / "max_sic.png").read_bytes()[:4] == b"\x89PNG"
    assert "cathode_maf" in (out / "summary.md").read_text()
    counts = json.loads((point / "data" / "counts.json").read_text())
    assert counts["sb_train"]["events"] > 4 * counts["sb_val"]["events"] * 0.9
    # Sculpting: the point's classifiers (not supervised, not ANODE) on the held-out
    # sideband background, a row per background efficiency, in the summary at 1%.
    assert counts["sb_holdout"] > 1000
    evaluation = json.loads((point / "evaluation.json").read_text())
    sculpted = {m for m, e in evaluation["methods"].items() if "sculpting" in e}
    assert sculpted == {"cathode_maf", "idealized", "cwola"}
    for method in sculpted:
        cuts = evaluation["methods"][method]["sculpting"]
        assert [c["efficiency"] for c in cuts] == [0.1, 0.01, 0.001]
        assert cuts[0]["skipped"] is None and cuts[0]["chi2_ndf"] > 0
    assert (point / "sculpting.png").read_bytes()[:4] == b"\x89PNG"
    measured = [r for r in rows if r["sculpting_efficiency"]]  # an empty cell: none
    assert len(measured) == 3 * 2  # 3 methods x 2 levels
    for r in measured:
        assert r["method"] in sculpted and float(r["sculpting_jsd_null"]) > 0
    assert "## Sculpting at 1% background efficiency" in (out / "summary.md").read_text()


def test_cathode_classifier_settings_rerun_only_the_classifiers(finished_run):
    """No density model is retrained, no template resampled: only the classifier stages."""
    changed = {
        **TINY,
        "cathode": {
            **TINY["cathode"],
            "classifier": {**TINY["cathode"]["classifier"], "lr": 0.002},
        },
    }
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == {**CATHODE_CLASSIFIERS, "all": 1}
    # An evaluation setting: the evaluations and the summary only.
    changed = {**TINY, "cathode": {**TINY["cathode"], "evaluation": {"min_background": 20}}}
    expected = {"cathode_evaluate": 2, "cathode_summary": 1, "all": 1}
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == expected
    # The oversampling: templates and what follows them (the idealized cap follows it too).
    changed = {**TINY, "cathode": {**TINY["cathode"], "interpolation": {"oversampling": 2}}}
    expected = {"cathode_template": 2, **CATHODE_CLASSIFIERS, "cathode_baseline": 2, "all": 1}
    expected.pop("cathode_supervised")  # signal vs true background: no template, no cap
    assert planned_jobs(snakemake(finished_run, changed, "-n")) == expected


def test_cathode_scans_fan_out_as_jobs(tmp_path):
    """Windows x seeds x levels x families: one job each, ready for a cluster."""
    scan = {
        **TINY["cathode"],
        "windows": [3.3, 3.5, 3.7],
        "seeds": [0, 1],
        "signal_levels": [0, 100, 300],
        "families": ["maf", "nsf"],
        "methods": ["cathode", "idealized", "supervised"],
    }
    result = snakemake(tmp_path, {**TINY, "cathode": scan}, "-n", "results/cathode/summary.csv")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result)
    points = 3 * 2 * 3
    assert jobs["cathode_fixed"] == 3 * 2 and jobs["cathode_supervised"] == 3 * 2
    assert jobs["cathode_data"] == jobs["cathode_evaluate"] == points
    assert jobs["cathode_density"] == jobs["cathode_template"] == points * 2
    assert jobs["cathode_classify"] == points * 2 and jobs["cathode_baseline"] == points
    assert "wildcards: window=3.30, seed=1, signal=100" in result.stdout


def test_lint_clean_and_every_rule_has_log_and_benchmark(tmp_path):
    result = snakemake(tmp_path, TINY, "--lint")
    assert result.returncode == 0 and "Lints for" not in result.stdout + result.stderr
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)+)", smk.read_text(), re.M):
            assert "    log:" in body, f"{smk.name}: rule {rule} has no log:"
            assert "    benchmark:" in body, f"{smk.name}: rule {rule} has no benchmark:"


def test_invalid_config_stops_snakemake_with_one_line_naming_the_key(tmp_path):
    """The Snakefile runs the start-up checks (every case: tests/test_startup_checks.py,
    in process): a bad key stops a dry run with one line, and nothing is written."""
    result = snakemake(tmp_path, {"families": {"vae": {"model": {"latent": 3}}}}, "-n")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    line = next(line for line in out.splitlines() if "invalid config: key" in line)
    assert "families.vae.model" in line and "latent" in line
    assert "'properties':" not in out  # the message names the key, not the whole schema
    assert not (tmp_path / "results").exists()


def test_files_source_with_missing_file_names_it(tmp_path):
    config = {"source": "files", "files": {"paths": ["data/run2.root"], "mapping": "delphes"}}
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode != 0
    assert "Missing input files for rule ingest" in result.stdout
    assert "data/run2.root" in result.stdout


def test_files_source_expands_glob_patterns_and_names_an_empty_one(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("run2.root", "run1.root", "notes.txt"):
        (data / name).write_bytes(b"")
    config = {"source": "files", "files": {"paths": ["data/run*.root"], "mapping": "delphes"}}
    result = snakemake(tmp_path, config, "-n", "-p", "results/features/events.h5")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--roots data/run1.root data/run2.root --features" in result.stdout
    assert '"mapping": "delphes"' in result.stdout  # in the ingest stage's one --params
    config["files"]["paths"] = ["data/run*.root", "elsewhere/*.root"]
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode != 0
    assert "config key files.paths: 'elsewhere/*.root' matches no file" in (
        result.stdout + result.stderr
    )


def test_shipped_configs_plan_every_family(tmp_path):
    """config.yaml trains every family on CPU; lhco.yaml is LHCO-sized and asks for GPUs."""
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert set(default["train"]["families"]) == set(FAMILIES)
    lhco = yaml.safe_load((REPO / "config" / "lhco.yaml").read_text())
    assert lhco["toy"]["n_events"] * lhco["preprocess"]["split"]["train"] >= 500_000
    result = snakemake(tmp_path, lhco, "-n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert planned_jobs(result)["train"] == len(FAMILIES)
    train_jobs = result.stdout.split("rule train:")[1:]
    assert len(train_jobs) == len(FAMILIES)
    assert all("gpu=1" in job.split("\n\n")[0] for job in train_jobs)


def test_sigkill_leaves_no_complete_looking_output_and_rerun_incomplete_recovers(tmp_path):
    """Snakemake and its job killed with SIGKILL mid-ingestion (a node lost): the final
    output never appears half-written, and the next run (the profile has
    rerun-incomplete) finishes it and removes the dead job's temporary."""
    import os
    import signal
    import time

    import psutil

    config = {**TINY, "toy": {**TINY["toy"], "n_events": 1_500_000}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    cmd = [
        Path(sys.executable).parent / "snakemake",
        "--snakefile",
        REPO / "workflow" / "Snakefile",
        "--directory",
        tmp_path,
        "--configfile",
        tmp_path / "run.yaml",
        "--cores",
        "1",
        "results/features/events.h5",
    ]
    proc = subprocess.Popen(cmd, env=env_with_venv(), cwd=tmp_path, start_new_session=True)
    output = tmp_path / "results" / "features" / "events.h5"
    deadline = time.monotonic() + 300

    def command(p):  # a child that ends meanwhile (a zombie, or gone) runs nothing
        try:
            return " ".join(p.cmdline())
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            return ""

    while time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True)
        ingesting = [p for p in children if "ingest.py" in command(p)]
        temporaries = list(output.parent.glob(".events.h5.tmp-*")) if output.parent.exists() else []
        if ingesting and temporaries:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("ingestion did not start")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not output.exists()  # only a temporary, which no rule takes as an input
    # The killed Snakemake could not release its lock: --unlock, as its message says.
    locked = snakemake(tmp_path, config, "results/features/events.h5")
    assert locked.returncode != 0 and "--unlock" in locked.stderr
    assert snakemake(tmp_path, config, "--unlock").returncode == 0
    result = snakemake(tmp_path, config, "results/features/events.h5")
    assert result.returncode == 0, result.stderr[-3000:]
    data, attrs = read_table(output)
    assert attrs["events_kept"] == len(data["mjj"]) > 1_400_000
    assert not list(output.parent.glob(".events.h5.tmp-*"))


def test_reana_spec_names_files_that_exist_and_rules_are_shell_rules():
    spec = yaml.safe_load((REPO / "reana.yaml").read_text())
    assert spec["workflow"]["type"] == "snakemake"
    assert (REPO / spec["workflow"]["file"]).is_file()
    for d in spec["inputs"]["directories"]:
        assert (REPO / d).is_dir(), d
    for f in spec["inputs"]["files"]:
        assert (REPO / f).is_file(), f
    assert (REPO / spec["inputs"]["parameters"]["input"]).is_file()
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for out in spec["outputs"]["files"]:
        assert out.startswith("results/"), out
    assert default["cathode"]["enabled"] and default["amplification"]["enabled"]
    for smk in [REPO / "workflow" / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]:
        text = smk.read_text()
        assert not re.search(r"^\s+run:", text, re.M), f"{smk.name} has a run: block"


def job_resources(workdir, config, *targets):
    """Each planned job's resources at its first attempt and at a retry."""
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [
            sys.executable,
            REPO / "tests" / "helpers" / "job_resources.py",
            REPO / "workflow" / "Snakefile",
            workdir,
            workdir / "run.yaml",
            *targets,
        ],
        capture_output=True,
        text=True,
        env=env_with_venv(),
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


GPU_RULES = {
    "train",
    "sample",
    "cathode_density",
    "cathode_template",
    "cathode_classify",
    "cathode_baseline",
    "cathode_supervised",
    "cathode_anode",
}


def test_retries_ask_for_more_memory_and_data_stages_scale_with_their_input(tmp_path):
    config = {
        **TINY,
        "train": {**TINY["train"], "mem_mb": 3000},
        "sample": {**TINY["sample"], "mem_mb": 1500},
    }
    # A 50 MB CATHODE events file already there: the partition's request follows its size.
    events = tmp_path / "results" / "cathode" / "data" / "events.h5"
    events.parent.mkdir(parents=True)
    with open(events, "wb") as f:
        f.truncate(50 * 1024**2)
    jobs = job_resources(
        tmp_path, config, "results/evaluation/leaderboard.csv", "results/cathode/summary.csv"
    )
    by_rule = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    assert GPU_RULES <= set(by_rule)
    for rule in GPU_RULES:
        for job in by_rule[rule]:
            first, retry = job["attempt1"]["mem_mb"], job["attempt2"]["mem_mb"]
            assert first > 0 and retry == 2 * first, (rule, job)
    assert {j["attempt1"]["mem_mb"] for j in by_rule["train"]} == {3000}
    assert {j["attempt1"]["mem_mb"] for j in by_rule["sample"]} == {1500}
    # 500 MB + 4x the 50 MB input (plus the script, under 1 MB).
    for rule in ("cathode_fixed", "cathode_data"):
        assert {j["attempt1"]["mem_mb"] for j in by_rule[rule]} == {700}, rule
    # Preprocessing's input does not exist yet: Snakemake defers its request to run time.
    assert by_rule["preprocess"][0]["attempt1"]["mem_mb"] is None
