"""Smoke test: the benchmark suite runs at a tiny size and reports sane numbers."""

import json
import subprocess
import sys

import pytest

from conftest import REPO, env_with_venv
from genhep.models import FAMILIES

pytestmark = pytest.mark.slow


def test_benchmarks_run_at_tiny_size(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            REPO / "benchmarks" / "run.py",
            "--events",
            "20000",
            "--repeats",
            "1",
            "--chunk-sizes",
            "5000",
            "--train-events",
            "1000",
            "--sample-events",
            "1500",
            "--sample-batch",
            "1000",
            "--json",
            out,
        ],
        capture_output=True,
        text=True,
        env=env_with_venv(),
    )
    assert result.returncode == 0, result.stderr
    assert "| toy generation" in result.stdout
    results = json.loads(out.read_text())
    rows = results["results"]
    assert len(rows) == 3
    assert all(r["events"] == 20000 and r["events_per_s"] > 0 for r in rows)
    assert 0 < rows[-1]["peak_rss_mb"] < 1536
    # Every family of the default config: trained and sampled, with a finite speed.
    models = results["models"]
    assert {m["family"] for m in models} == set(FAMILIES)
    for m in models:
        assert m["device"] == "cpu" and m["train_events"] == 1000 and m["sample_events"] == 1500
        assert 0 < m["train_events_per_s"] < 1e9 and 0 < m["sample_events_per_s"] < 1e10
    assert "| diffusion | cpu |" in result.stdout


def test_density_and_sampler_steps_benchmarks_run_at_tiny_size(tmp_path):
    import shutil

    from conftest import feature_table
    from genhep.layout import training_outputs
    from genhep.preprocess import preprocess
    from genhep.train import STAGE as train_stage

    results = tmp_path / "results"
    pre = results / "preprocessed"
    pre.mkdir(parents=True)
    feature_table(tmp_path / "events.h5", n=6000)
    preprocess(
        tmp_path / "events.h5",
        {s: pre / f"{s}.h5" for s in ("train", "val", "test")},
        pre / "transform.json",
    )
    for family in ("cfm", "diffusion"):
        params = {
            "train": {"epochs": 3, "batch_size": 256, "patience": 0, "device": "cpu"},
            "model": {"hidden": 16, **({"timesteps": 20} if family == "diffusion" else {})},
        }
        train_stage(
            {"family": family, **params},
            {"train": pre / "train.h5", "val": pre / "val.h5"},
            training_outputs(results / "models" / family, tmp_path / f"{family}.ckpt"),
        )
    # The density benchmark reads a CATHODE point's sideband splits; any split file will do.
    density = tmp_path / "density"
    density.mkdir()
    shutil.copy(pre / "train.h5", density / "sb_train.h5")
    shutil.copy(pre / "val.h5", density / "sb_val.h5")
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            REPO / "benchmarks" / "run.py",
            "--stages",
            "density",
            "steps",
            "--repeats",
            "1",
            "--density-data",
            density,
            "--density-model",
            '{"transforms": 2, "hidden": 16, "layers": 1}',
            "--reference-epochs",
            "2",
            "--fast",
            "1024:0.003:4",
            "--sample-events",
            "2000",
            "--sample-batch",
            "1000",
            "--results",
            results,
            "--steps",
            "2",
            "10",
            "--steps-events",
            "600",
            "--json",
            out,
        ],
        capture_output=True,
        text=True,
        env=env_with_venv(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bench = json.loads(out.read_text())
    reference, fast = bench["density"]["recipes"]
    assert (reference["batch_size"], reference["lr"], reference["epochs"]) == (256, 1e-4, 2)
    assert (fast["batch_size"], fast["lr_schedule"], len(fast["history"])) == (1024, "cosine", 4)
    # The reference reaches its own best loss, at the epoch it was reached.
    best = min(h["val_loss"] for h in reference["history"])
    assert best == pytest.approx(bench["density"]["reference_val_loss"])
    assert reference["time_to_reference_loss_s"] <= reference["seconds"]
    assert fast["sample_events_per_s"] > 0
    assert "| reference: batch 256, lr 1e-4 | 2 |" in result.stdout
    rows = bench["steps"]["rows"]
    assert [(r["family"], r["sampler"], r["steps"]) for r in rows] == [
        ("cfm", "midpoint", 2),
        ("cfm", "midpoint", 10),
        ("diffusion", "ddim", 2),
        ("diffusion", "ddim", 10),
        ("diffusion", "dpm2m", 2),
        ("diffusion", "dpm2m", 10),
        ("diffusion", "ddpm", 20),
    ]
    assert all(0.3 < r["auc"] <= 1 and r["events_per_s"] > 0 for r in rows)
    assert 0.35 < bench["steps"]["truth_vs_truth_auc"] < 0.65


def test_time_to_target_and_recipe_parsing():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from density_speed import Recipe, time_to_target

    history = [{"val_loss": 3.0, "seconds": 1.0}, {"val_loss": 2.0, "seconds": 2.5}]
    assert time_to_target(history, 2.5) == 2.5
    assert time_to_target(history, 3.0) == 1.0
    assert time_to_target(history, 1.0) is None
    assert Recipe.parse("16384:0.003:200") == Recipe(
        "batch 16384, lr 0.003, cosine", 16384, 0.003, 200, "cosine"
    )


def test_speedup_uses_the_references_own_time_to_its_loss():
    """NOTES section 3: the reference ran 815.5 s but reached its best loss at 681.9 s; a
    recipe reaching that loss at 132.1 s is 5.2x faster, not 6.2x."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from density_speed import add_speedups

    reference = {"history": [{"val_loss": 5.4, "seconds": 300.0},
                             {"val_loss": 5.3186, "seconds": 681.9},
                             {"val_loss": 5.3190, "seconds": 815.5}], "seconds": 815.5}  # fmt: skip
    fast = {"history": [{"val_loss": 5.5, "seconds": 60.0}, {"val_loss": 5.3183, "seconds": 132.1}]}
    slow = {"history": [{"val_loss": 5.33, "seconds": 90.0}]}
    rows = [reference, fast, slow]
    add_speedups(rows, 5.3186)
    assert reference["time_to_reference_loss_s"] == 681.9
    assert reference["speedup_vs_reference"] is None
    assert fast["speedup_vs_reference"] == pytest.approx(681.9 / 132.1)
    assert slow["time_to_reference_loss_s"] is None and slow["speedup_vs_reference"] is None


def test_a_reused_reference_must_match_device_threads_model_and_sizes():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from density_speed import CATHODE_MAF, check_reusable

    earlier = {"model": CATHODE_MAF, "train_events": 1000, "val_events": 250,
               "device": "NVIDIA H100 80GB HBM3", "threads": 16}  # fmt: skip
    check_reusable(earlier, CATHODE_MAF, 1000, 250, "NVIDIA H100 80GB HBM3", 16)
    with pytest.raises(SystemExit, match=r"device 'NVIDIA H100 80GB HBM3' \(here 'cpu'\)"):
        check_reusable(earlier, CATHODE_MAF, 1000, 250, "cpu", 16)
    with pytest.raises(SystemExit, match=r"threads 16 \(here 2\)"):
        check_reusable(earlier, CATHODE_MAF, 1000, 250, "NVIDIA H100 80GB HBM3", 2)
    with pytest.raises(SystemExit, match=r"train_events 1000 \(here 2000\)"):
        check_reusable(earlier, CATHODE_MAF, 2000, 250, "NVIDIA H100 80GB HBM3", 16)


def test_maf_step_benchmark_reports_every_variant(tmp_path):
    """The GPU step benchmark (NOTES section 10) at a tiny size on the CPU."""
    out = tmp_path / "step.json"
    result = subprocess.run(
        [
            sys.executable,
            REPO / "benchmarks" / "maf_step.py",
            "--device",
            "cpu",
            "--batches",
            "32",
            "64",
            "--steps",
            "2",
            "--events",
            "2000",
            "--json",
            out,
        ],
        capture_output=True,
        text=True,
        env=env_with_venv(),
        cwd=REPO / "benchmarks",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    bench = json.loads(out.read_text())
    assert [r["batch"] for r in bench["step_ms"]] == [32, 64]
    for row in bench["step_ms"]:
        assert all(row[v] > 0 for v in ("fused", "foreach", "item", "tf32", "bf16"))
    assert bench["loop_3_epochs_s"] > 0 and "| 64 |" in result.stdout


def test_dag_planning_benchmark_counts_jobs(tmp_path):
    """One more sampling shard is one more sampling job per family (7), one more seed a
    whole CATHODE point per level; the printed table has the count."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import dag_planning

    small = dag_planning.scale_config(shards=2, windows=1, levels=2, seeds=1)
    base, _ = dag_planning.plan(small, tmp_path)
    more_shards, _ = dag_planning.plan(dag_planning.scale_config(3, 1, 2, 1), tmp_path)
    more_seeds, _ = dag_planning.plan(dag_planning.scale_config(2, 1, 2, 2), tmp_path)
    assert more_shards - base == 7
    per_seed = more_seeds - base
    assert per_seed > 2 * 5  # 2 levels x (data, density, template, classifiers, evaluate)
