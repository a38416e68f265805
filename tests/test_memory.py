"""Ingestion memory is bounded by the chunk size, not by the number of events."""

import resource
import subprocess
import sys

import pytest
from conftest import SCRIPTS, env_with_venv

from genhep.data.toy import ToyParams, write_root

pytestmark = pytest.mark.slow


def test_ingesting_a_million_events_stays_under_1_5_gb(tmp_path):
    write_root(ToyParams(n_events=1_000_000, seed=9), tmp_path / "toy.root")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run(
        [
            sys.executable,
            SCRIPTS / "ingest.py",
            "--inputs",
            tmp_path / "toy.root",
            "--mapping",
            '"genhep"',
            "--output",
            tmp_path / "f.h5",
            "--log",
            tmp_path / "ingest.log",
        ],  # default chunk size
        capture_output=True,
        text=True,
        env=env_with_venv(),
    )
    assert result.returncode == 0, result.stderr
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    assert peak_mb > before / 1024 or before == 0
    print(f"peak RSS of ingesting 1e6 toy events: {peak_mb:.0f} MB")
    assert peak_mb < 1536
