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
