"""The CATHODE studies' scripts (benchmarks/cathode_families.py, cathode_noise.py) at tiny
size: the numbers they print come from the files they read."""

import csv
import json
import sys

import numpy as np
import yaml

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import cathode_families  # noqa: E402
import cathode_noise  # noqa: E402

from genhep.cathode.datasets import Events  # noqa: E402
from genhep.cathode.files import write_events  # noqa: E402
from genhep.cathode.stage_summary import SUMMARY_COLUMNS  # noqa: E402


def test_the_family_table_takes_medians_over_seeds_and_counts_failed_templates(tmp_path):
    rows = []
    for seed in range(3):
        for level in (0, 800):
            for method, pull, sic in (
                ("cathode_vae", 4.0 + seed, 10.0 + seed),
                ("idealized", 0.1, 20.0),
            ):
                row = dict.fromkeys(SUMMARY_COLUMNS, "")
                row |= {"method": method, "window": 3.5, "seed": seed, "signal_injected": level}
                row |= {"null_pull": pull, "check_auc": 0.5 + pull / 100, "bump_z": seed}
                row |= {"max_sic_median": sic, "max_sic_16": sic - 1, "max_sic_84": sic + 1}
                rows.append(row)
            trained = tmp_path / f"sr3.50/seed{seed}/s{level}/density/sb/vae/training.json"
            trained.parent.mkdir(parents=True)
            trained.write_text(json.dumps({"training_seconds": 10.0 * (seed + 1)}))
    with open(tmp_path / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    table = {
        r["method"]: r
        for r in cathode_families.main(["--results", str(tmp_path), "--signal", "800"])
    }
    vae = table["cathode_vae"]
    assert vae["seeds"] == 3 and vae["max_sic"] == 11.0
    assert (vae["max_sic_low"], vae["max_sic_high"]) == (9.0, 13.0)
    assert vae["null_pull"] == 5.0 and vae["failed_seeds"] == 3  # pulls 4, 5, 6 > 3
    assert vae["training_seconds"] == 20.0 and vae["bump_z"] == 1.0
    assert vae["max_sic_zero_signal"] == 11.0  # the same rows at both levels here
    idealized = table["idealized"]  # no template: no null check to fail
    assert idealized["failed_seeds"] is None and idealized["training_seconds"] is None


def test_the_noise_study_reruns_the_classifier_per_kind_and_k(tmp_path):
    rng = np.random.default_rng(0)
    point = tmp_path / "sr3.50" / "seed0" / "s800"

    def events(path, n, signal=0):
        label = np.r_[np.ones(signal), np.zeros(n - signal)].astype(np.int64)
        x = rng.normal(size=(n, 2)) + 1.5 * label[:, None]
        write_events(path, Events(x, np.full(n, 3.5), label, ("a", "b")))

    for path, n, signal in (
        (point / "data" / "sr_data.h5", 2000, 400),
        (point / "template" / "maf.h5", 4000, 0),
        (point.parent / "fixed" / "test.h5", 2000, 400),
        (point.parent / "fixed" / "reference.h5", 4000, 0),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        events(path, n, signal)
    config = tmp_path / "config.yaml"
    classifier = {"epochs": 2, "runs": 2, "best_epochs": 1, "device": "cpu", "mem_mb": 1000}
    config.write_text(yaml.safe_dump({"cathode": {"classifier": classifier}}))
    rows = cathode_noise.main(
        ["--point", str(point), "--config", str(config), "--noise", "0", "3"]
        + ["--methods", "cathode", "--kinds", "mlp", "hgb"]
    )
    assert [(r["kind"], r["noise_features"]) for r in rows] == [
        ("mlp", 0),
        ("mlp", 3),
        ("hgb", 0),
        ("hgb", 3),
    ]
    for r in rows:  # a signal 1.5 sigma away in both features: far above random (SIC 1)
        assert r["max_sic_16"] <= r["max_sic"] <= r["max_sic_84"] and r["max_sic"] > 1.5, r
