"""Stage memory: ingestion is bounded by the chunk size, not by the number of events, and
each data stage peaks below the memory its rule asks of a batch system."""

import json
import sys

import pytest
from test_workflow import job_resources

from conftest import REPO, SCRIPTS, env_with_venv
from genhep.config import validate_config
from genhep.data.toy import write_root
from genhep.resources import measure_command
from genhep.settings.data import ToySettings

pytestmark = pytest.mark.slow


def ingest_cmd(tmp_path, output, **settings):
    return [
        sys.executable,
        SCRIPTS / "ingest.py",
        "--params",
        json.dumps({"mapping": "genhep", **settings}),
        "--roots",
        tmp_path / "toy.root",
        "--features",
        output,
        "--log",
        tmp_path / "log",
    ]


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    """A million toy events ingested, with the default chunk size, where a workflow in
    ``wf`` reads its feature table: (directory, the ingestion's measured cost)."""
    d = tmp_path_factory.mktemp("memory")
    write_root(ToySettings(n_events=1_000_000, seed=9), d / "toy.root")
    features = d / "wf" / "results" / "features" / "events.h5"
    features.parent.mkdir(parents=True)
    default = measure_command(ingest_cmd(d, features), env=env_with_venv())
    assert default["returncode"] == 0
    return d, default


def test_ingesting_a_million_events_stays_under_1_5_gb(million):
    d, default = million
    print(f"peak RSS ingesting 1e6 toy events: {default['peak_rss_mb']:.0f} MB")
    assert default["peak_rss_mb"] < 1536
    # Bounded by the chunk: a 10x smaller chunk needs less memory, not the same.
    small = measure_command(ingest_cmd(d, d / "small.h5", chunk_size=10_000), env=env_with_venv())
    assert small["returncode"] == 0
    assert small["peak_rss_mb"] < default["peak_rss_mb"]


def test_data_stages_peak_below_the_memory_their_rules_ask_for(million):
    """The requests come from Snakemake's planned jobs for the default config (ingest:
    by the chunk size; preprocess: by its input's size, here the 27 MB table above)."""
    d, ingest = million
    jobs = job_resources(d / "wf", {}, "results/preprocessed/train.h5")
    asked = {job["rule"]: job["attempt1"]["mem_mb"] for job in jobs}

    config = {}
    validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")  # defaults
    out = d / "preprocessed"
    preprocess = measure_command(
        [
            sys.executable,
            SCRIPTS / "preprocess.py",
            "--features",
            d / "wf" / "results" / "features" / "events.h5",
            "--params",
            json.dumps(config["preprocess"]),
            *[arg for split in ("train", "val", "test") for arg in (f"--{split}", out / split)],
            "--transform",
            out / "transform.json",
            "--log",
            out / "log",
        ],
        env=env_with_venv(),
    )
    assert preprocess["returncode"] == 0
    peaks = {"ingest": ingest["peak_rss_mb"], "preprocess": preprocess["peak_rss_mb"]}
    print("peak RSS / requested MB:", {r: (round(peaks[r]), asked[r]) for r in peaks})
    for rule, peak in peaks.items():
        assert peak < asked[rule], (rule, peak, asked[rule])
