"""Ingestion memory is bounded by the chunk size, not by the number of events."""

import sys

import pytest

from conftest import SCRIPTS, env_with_venv
from genhep.data.toy import ToyParams, write_root
from genhep.resources import measure_command

pytestmark = pytest.mark.slow


def ingest_cmd(tmp_path, *extra):
    return [
        sys.executable,
        SCRIPTS / "ingest.py",
        "--inputs",
        tmp_path / "toy.root",
        "--mapping",
        '"genhep"',
        "--output",
        tmp_path / "f.h5",
        "--log",
        tmp_path / "log",
        *extra,
    ]


def test_ingesting_a_million_events_stays_under_1_5_gb(tmp_path):
    write_root(ToyParams(n_events=1_000_000, seed=9), tmp_path / "toy.root")
    default = measure_command(ingest_cmd(tmp_path), env=env_with_venv())  # default chunk size
    assert default["returncode"] == 0
    print(f"peak RSS ingesting 1e6 toy events: {default['peak_rss_mb']:.0f} MB")
    assert default["peak_rss_mb"] < 1536
    # Bounded by the chunk: a 10x smaller chunk needs less memory, not the same.
    small = measure_command(ingest_cmd(tmp_path, "--chunk-size", "10000"), env=env_with_venv())
    assert small["returncode"] == 0
    assert small["peak_rss_mb"] < default["peak_rss_mb"]
