"""The workflow on the user's own files through a dataset sheet, and the checks that the
config and the input metadata decide before any job runs."""

import h5py
import numpy as np
import pytest
import yaml
from test_workflow import TINY, planned_jobs, snakemake

from conftest import write_jets_root
from genhep.io.hdf5 import read_table

pytestmark = pytest.mark.slow


def dijet_events(n, seed, mass_scale):
    """``n`` events with two or three jets each (GeV), with tau branches."""
    rng = np.random.default_rng(seed)
    jets = {k: [] for k in ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")}
    for _ in range(n):
        k = int(rng.integers(2, 4))
        pt = np.sort(rng.uniform(1300.0, 1800.0, k))[::-1]
        jets["pt"].append(pt.tolist())
        jets["eta"].append(rng.normal(0, 0.5, k).tolist())
        jets["phi"].append((np.array([0.0, np.pi, 1.0][:k]) + rng.normal(0, 0.1, k)).tolist())
        jets["mass"].append(rng.uniform(0.5, 1.5, k).dot(mass_scale).tolist())
        tau1 = rng.uniform(0.2, 0.5, k)
        jets["tau1"].append(tau1.tolist())
        jets["tau2"].append((tau1 * rng.uniform(0.3, 0.9, k)).tolist())
        jets["tau3"].append((tau1 * rng.uniform(0.1, 0.3, k)).tolist())
    return jets


@pytest.fixture
def labelled_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_jets_root(data / "signal.root", dijet_events(40, 1, 300.0))
    write_jets_root(data / "qcd_1.root", dijet_events(70, 2, 100.0))
    write_jets_root(data / "qcd_2.root", dijet_events(90, 3, 100.0))
    return tmp_path


def sheet(path, rows):
    lines = ["# a test sheet", "name\tpaths\tmapping\tlabel"]
    lines += ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path.name


FILES = {**TINY, "source": "files", "files": {"mapping": "genhep"}}


def test_dataset_sheet_labels_come_per_file(labelled_files):
    name = sheet(
        labelled_files / "datasets.tsv",
        [("signal", "data/signal.root", "genhep", "1"), ("qcd", "data/qcd_*.root", "genhep", "0")],
    )
    config = {**FILES, "files": {"datasets": name}}
    result = snakemake(labelled_files, config, "results/features/events.h5")
    assert result.returncode == 0, result.stderr[-3000:]
    table, attrs = read_table(labelled_files / "results" / "features" / "events.h5")
    assert attrs["events_read"] == 200
    assert int(table["label"].sum()) == 40 and int((table["label"] == 0).sum()) == 160
    assert attrs["file_datasets"] == ["signal", "qcd", "qcd"]
    # Labelled: the CATHODE branch is planned on these events (auto), beside the families.
    jobs = planned_jobs(snakemake(labelled_files, config, "-n"))
    assert jobs["cathode_data"] == 2 and jobs["train"] == 7
    assert "cathode_generate_toy" not in jobs  # it searches the user's events
    # Editing the sheet (a label) reruns ingestion and what follows it.
    sheet(
        labelled_files / "datasets.tsv",
        [("signal", "data/signal.root", "genhep", "0"), ("qcd", "data/qcd_*.root", "genhep", "0")],
    )
    jobs = planned_jobs(snakemake(labelled_files, config, "-n", "results/features/events.h5"))
    assert jobs == {"ingest": 1}


def test_unlabelled_inputs_turn_cathode_off_with_a_notice_and_the_rest_runs(labelled_files):
    name = sheet(labelled_files / "datasets.tsv", [("run", "data/*.root", "genhep", "")])
    config = {**FILES, "files": {"datasets": name}}
    result = snakemake(labelled_files, config, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the CATHODE search is off (cathode.enabled: auto)" in result.stderr
    assert "datasets.tsv (dataset run)" in result.stderr
    jobs = planned_jobs(result)
    assert not any(rule.startswith("cathode") for rule in jobs) and jobs["train"] == 7
    # Asked for explicitly: one clear error at start-up, naming the key, nothing run.
    config["cathode"] = {**TINY["cathode"], "enabled": True}
    result = snakemake(labelled_files, config, "-n")
    assert result.returncode != 0
    line = next(x for x in (result.stdout + result.stderr).splitlines() if "invalid config" in x)
    assert "key cathode.enabled" in line and "no" in line and "labels" in line
    assert not (labelled_files / "results").exists()


@pytest.mark.parametrize(
    "files, cathode, key, words",
    [
        # A jets mapping without the tau branches gives no tau21 features.
        (
            {"paths": ["data/*.root"], "mapping": {"preset": "genhep", "jets": {"tau1": None}}},
            {"enabled": True},
            "files.mapping",
            "tau",
        ),
        (
            {"paths": ["data/*.root"], "mapping": "genhep"},
            {"enabled": True, "features": ["mj_min", "n_subjets"]},
            "cathode.enabled",
            "n_subjets",
        ),
        (
            {
                "paths": ["data/*.root"],
                "mapping": {"kind": "flat", "tree": "events", "columns": {"mjj": "x"}},
            },
            {"enabled": False},
            "preprocess.features",
            "mj_min",
        ),
    ],
)
def test_inputs_that_cannot_give_what_the_config_asks_fail_at_start_up(
    labelled_files, files, cathode, key, words
):
    config = {**FILES, "files": files, "cathode": {**TINY["cathode"], **cathode}}
    if key == "preprocess.features":
        config["preprocess"] = {"features": ["mj_min"]}
    result = snakemake(labelled_files, config, "-n")
    assert result.returncode != 0
    line = next(x for x in (result.stdout + result.stderr).splitlines() if "invalid config" in x)
    assert f"key {key}" in line and words in line, line
    assert "Traceback" not in result.stdout + result.stderr


def test_jets_without_taus_turn_cathode_off_under_auto(labelled_files):
    files = {"paths": ["data/*.root"], "mapping": {"kind": "jets", "tree": "events", "label": None}}
    files["mapping"]["jets"] = {"pt": "jet_pt", "eta": "jet_eta", "phi": "jet_phi"}
    files["mapping"]["jets"]["mass"] = "jet_mass"
    result = snakemake(labelled_files, {**FILES, "files": files}, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CATHODE search is off" in result.stderr and "tau21_min" in result.stderr


def test_lhco_rnd_file_is_an_input(tmp_path):
    """The LHC Olympics R&D features file, in its pandas layout, through the workflow."""
    from test_lhco_input import lhco_events, write_pandas_fixed

    write_pandas_fixed(tmp_path / "events_anomalydetection_v2.features.h5", lhco_events(300, 4))
    config = {
        **FILES,
        "files": {"paths": ["events_anomalydetection_v2.features.h5"], "mapping": "lhco_rnd"},
    }
    result = snakemake(tmp_path, config, "results/features/events.h5")
    assert result.returncode == 0, result.stderr[-3000:]
    table, attrs = read_table(tmp_path / "results" / "features" / "events.h5")
    assert list(table) == ["mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max", "label"]
    assert 250 < attrs["events_kept"] <= 300
    with h5py.File(tmp_path / "events_anomalydetection_v2.features.h5") as f:
        assert "df" in f
    assert yaml.safe_load((tmp_path / "run.yaml").read_text())["files"]["mapping"] == "lhco_rnd"
