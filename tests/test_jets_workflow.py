"""End-to-end: the jets branch of the workflow (Snakemake from the repository's Snakefile)
on JetNet-layout files written here, at tiny sizes: every cloud stage and family."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_clouds_stages import synthetic_jetnet

from conftest import REPO, env_with_venv

pytestmark = pytest.mark.slow

FAMILIES = ["epic_fm", "epic_jedi", "epic_gan"]


def tiny_jets_config(workdir):
    files = {
        "g": {"format": "jetnet", "paths": [str(synthetic_jetnet(workdir / "g.h5", 800, 16, 1))]},
        "t": {
            "format": "jetnet",
            "paths": [str(synthetic_jetnet(workdir / "t.h5", 800, 16, 2, width=0.25))],
        },
    }
    return {
        "train": {"families": []},
        "amplification": {"enabled": False},
        "cathode": {"enabled": False},
        "jets": {
            "families": FAMILIES,
            "classes": ["g", "t"],
            "n_particles": [12],
            "source": "files",
            "files": files,
            "train": {"epochs": 2, "batch_size": 128, "patience": 0},
            "sample": {"shards": 2, "events_per_shard": 150, "batch_size": 100},
            "evaluate": {
                "num_eval_samples": 100,
                "num_batches": 3,
                "efp_jets": 200,
                "fpd": {"min_samples": 50, "max_samples": 100, "num_batches": 3, "num_points": 3},
                "kpd": {"num_batches": 2, "batch_size": 50},
                "classifier": {"folds": 2, "epochs": 1, "max_jets": 200},
            },
        },
        "families": {f: {"model": {"hidden": 16}} for f in FAMILIES},
    }


def snakemake(workdir, config, *args):
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run(
        [
            Path(sys.executable).parent / "snakemake",
            "--snakefile",
            REPO / "workflow" / "Snakefile",
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
        env=env_with_venv(),
    )


def test_the_jets_branch_runs_end_to_end_and_reruns_only_what_changed(tmp_path):
    config = tiny_jets_config(tmp_path)
    result = snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    jets = tmp_path / "results" / "jets"
    with open(jets / "leaderboard.csv") as f:
        table = list(csv.DictReader(f))
    assert [(r["class"], r["family"]) for r in table[:1]] == [("g12", "truth")]
    assert sorted((r["class"], r["family"]) for r in table) == sorted(
        (d, f) for d in ("g12", "t12") for f in ["truth", *FAMILIES]
    )
    record = json.loads((jets / "evaluation" / "t12" / "epic_fm" / "metrics.json").read_text())
    assert record["generated_jets"] == record["truth_jets"]  # as many as the reference
    for key in ("w1m", "fpd", "kpd", "auc"):
        assert all(v == v for v in record[key]), key  # finite numbers, no NaN
    plots = {p.name for p in (jets / "evaluation" / "g12" / "epic_gan" / "plots").iterdir()}
    assert {"jet_features.png", "particle_features.png", "efps.png", "jet_image.png"} <= plots
    assert not list((jets / "samples").glob("*/*/shard*.h5"))  # shards are temporary
    # A metric's setting reruns the evaluations and the leaderboard, not the generators.
    config["jets"]["evaluate"]["num_batches"] = 4
    plan = snakemake(tmp_path, config, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    table = (plan.stdout + plan.stderr).split("Job stats:")[1]
    planned = dict(re.findall(r"^(\w+)\s+(\d+)$", table, re.M))
    assert {k: v for k, v in planned.items() if k not in ("total", "all")} == {
        "evaluate_clouds": "6",
        "evaluate_clouds_truth": "2",
        "leaderboard_clouds": "1",
    }
