"""The tiny workflow through a real SLURM cluster: profiles/slurm, sbatch, squeue.

tests/slurm/start_cluster.sh starts a single-node cluster on this machine (munged,
slurmctld, slurmd on loopback; it installs Debian's slurm-wlm and munge when missing);
the fixture stops the daemons it started, by PID. Needs root; skipped with the reason
otherwise. The HTCondor profile is only loaded and planned (HTCondor is not in Debian).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from test_workflow import TINY, planned_jobs, snakemake

from conftest import REPO
from genhep.io.hdf5 import read_table

pytestmark = pytest.mark.slow

SLURM_DIR = Path(__file__).parent / "slurm"
# A smaller tiny run: every stage and rule kind, fewer jobs (each is an sbatch job).
SMALL = {
    **TINY,
    "train": {**TINY["train"], "families": ["maf", "vae"]},
    "amplification": {"enabled": False},
    "cathode": {**TINY["cathode"], "signal_levels": [300], "methods": ["cathode", "idealized"]},
}


def _can_run_slurm() -> str | None:
    if os.geteuid() != 0:
        return "needs root to write /etc/slurm/slurm.conf and start the SLURM daemons"
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        return "no slurmctld and no apt-get to install it"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _can_run_slurm()
    if reason:
        pytest.skip(f"SLURM test skipped: {reason}")
    start = subprocess.run(
        [SLURM_DIR / "start_cluster.sh", "test"], capture_output=True, text=True, timeout=900
    )
    if start.returncode != 0:
        subprocess.run([SLURM_DIR / "stop_cluster.sh"])
        pytest.skip(f"SLURM test skipped: the test cluster did not start: {start.stderr[-2000:]}")
    print(start.stdout.strip())
    yield
    subprocess.run([SLURM_DIR / "stop_cluster.sh"], check=True)


def profile_on_test_partition(tmp_path):
    """The shipped profile with every partition pointed at the test cluster's."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = "test"
    for resources in profile["set-resources"].values():
        resources["slurm_partition"] = "test"
        resources["gpu"] = 0  # the test cluster has no GPU
    profile["slurm-status-command"] = "squeue"  # no accounting database here
    profile["slurm-init-seconds-before-status-checks"] = 5
    profile["latency-wait"] = 5
    profile["retries"] = 0
    out = tmp_path / "profile"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(profile))
    assert profile["executor"] == "slurm" and profile["set-resources"]["train"]
    return out


def _same_outputs(a: Path, b: Path) -> None:
    for rel in ("features/events.h5", "cathode/sr3.50/seed0/fixed/test.h5"):
        ta, _ = read_table(a / rel)
        tb, _ = read_table(b / rel)
        for col in ta:
            np.testing.assert_array_equal(ta[col], tb[col], err_msg=f"{rel}:{col}")
    for family in ("maf", "vae"):
        wa = torch.load(a / f"models/{family}/model.pt", weights_only=True)["state_dict"]
        wb = torch.load(b / f"models/{family}/model.pt", weights_only=True)["state_dict"]
        for k in wa:
            assert torch.equal(wa[k], wb[k]), f"{family} weights differ at {k}"
    ca = (a / "cathode/summary.csv").read_text()
    assert ca == (b / "cathode/summary.csv").read_text()


def test_tiny_workflow_through_slurm_matches_a_local_run(slurm_cluster, tmp_path):
    profile = profile_on_test_partition(tmp_path)
    cluster_dir, local_dir = tmp_path / "cluster", tmp_path / "local"
    cluster_dir.mkdir()
    local_dir.mkdir()
    result = snakemake(cluster_dir, SMALL, "--profile", profile, "--jobs", "8")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    planned = planned_jobs(snakemake(local_dir, SMALL, "-n"))
    # The bookkeeping jobs (the Snakefile's localrules) run here, every other one in SLURM.
    local_rules = {"all", "gather_samples", "leaderboard", "cathode_evaluate", "cathode_summary"}
    expected_local = sorted(r for r, n in planned.items() if r in local_rules for _ in range(n))
    n_jobs = sum(planned.values()) - len(expected_local)
    ran_locally = sorted(re.findall(r"^localrule (\w+):", out, re.M))
    print(f"{len(submitted)} jobs through sbatch, SLURM job ids {submitted[0]}..{submitted[-1]}")
    print(f"{len(ran_locally)} jobs ran locally: {ran_locally}")
    assert len(set(submitted)) == n_jobs, (len(submitted), planned)
    assert ran_locally == expected_local
    local = snakemake(local_dir, SMALL)
    assert local.returncode == 0, local.stderr[-3000:]
    _same_outputs(cluster_dir / "results", local_dir / "results")


def test_htcondor_profile_loads_and_plans(tmp_path):
    result = snakemake(tmp_path, SMALL, "--profile", REPO / "profiles" / "htcondor", "-n")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert planned_jobs(result)["train"] == 2


def test_slurm_profile_plans_gpu_partition_for_torch_stages(tmp_path):
    """The training jobs ask for a GPU on the GPU partition by rule: with the default
    device (auto) on this machine, which has no GPU, as with device cuda."""
    config = SMALL
    result = snakemake(tmp_path, config, "--profile", REPO / "profiles" / "slurm", "-n")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    train_jobs = out.split("rule train:")[1:]
    assert len(train_jobs) == 2
    for job in train_jobs:
        resources = job.split("\n\n")[0]
        assert "gpu=1" in resources and "slurm_partition=gpu" in resources, resources
    ingest = out.split("rule ingest:")[1].split("\n\n")[0]
    assert "slurm_partition=cpu" in ingest and "gpu" not in ingest.split("resources:")[1]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v", "-s"]))
