"""A sliding-window scan as a user runs it: two SR windows, the toy's signal (at 3.5 TeV)
in only one of them, through Snakemake to the summary's significance per window."""

import csv
import json

import pytest
from test_workflow import TINY, snakemake

pytestmark = pytest.mark.slow

METHODS = ["cathode", "lacathode", "idealized", "supervised", "cwola"]


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scan")
    cathode = {**TINY["cathode"], "windows": [3.5, 4.5], "signal_levels": [300]}
    config = {**TINY, "cathode": {**cathode, "methods": METHODS}}
    result = snakemake(workdir, config, "results/cathode/summary.csv")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir / "results" / "cathode"


def test_a_window_without_signal_runs_and_reports_its_background_figures(scan):
    with open(scan / "summary.csv") as f:
        rows = {(r["method"], float(r["window"])): r for r in csv.DictReader(f)}
    methods = {"cathode_maf", "lacathode_maf", "idealized", "supervised", "cwola"}
    assert {m for m, _ in rows} == methods and len(rows) == 2 * len(methods)
    for method in methods:
        empty, signal = rows[method, 4.5], rows[method, 3.5]
        assert int(empty["signal_sr"]) == 0 and int(signal["signal_sr"]) > 250
        assert empty["max_sic_median"] == "" and float(signal["max_sic_median"]) > 1.5
        assert empty["not_applicable"] and not signal["not_applicable"]
    assert "no signal in this SR" in rows["supervised", 4.5]["not_applicable"]
    evaluation = json.loads((scan / "sr4.50" / "seed0" / "s300" / "evaluation.json").read_text())
    assert evaluation["sic"].startswith("not applicable")
    for method in methods - {"supervised"}:
        entry = evaluation["methods"][method]
        assert entry["check_auc"] > 0 and entry["sculpting"] and entry["bump_hunt"], method
    for png in ("sic.png", "sculpting.png", "bumphunt.png"):
        assert (scan / "sr4.50" / "seed0" / "s300" / png).read_bytes()[:4] == b"\x89PNG"


def test_the_scan_shows_the_significance_per_window_with_the_signal_window_standing_out(scan):
    with open(scan / "summary.csv") as f:
        rows = {(r["method"], float(r["window"])): r for r in csv.DictReader(f)}
    for method in ("cathode_maf", "lacathode_maf", "idealized"):
        assert float(rows[method, 3.5]["bump_z"]) > 4.0, method
        assert abs(float(rows[method, 4.5]["bump_z"])) < 3.0, method
        assert float(rows[method, 3.5]["bump_z"]) > float(rows[method, 3.5]["z_no_cut"])
    md = (scan / "summary.md").read_text()
    assert "## Bump hunt: local significance in the SR" in md
    assert "| cathode_maf | 4.50 | 0 | 300 |" in md
    assert (scan / "significance.png").read_bytes()[:4] == b"\x89PNG"
