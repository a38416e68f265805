"""The dataset sheet (config/datasets.tsv): parsing, its errors, and ingestion by dataset."""

import json
import subprocess
import sys

import numpy as np
import pytest
from test_lhco_input import lhco_events, write_pandas_fixed

from conftest import REPO, env_with_venv, run_script, write_jets_root
from genhep.datasets import Dataset, dataset_paths, load_datasets
from genhep.errors import GenhepError
from genhep.ingest import ingest_datasets
from genhep.io.hdf5 import read_table

HEADER = "name\tpaths\tmapping\tlabel\tweight\ttree"


def dijets(n, seed, mass=(100.0, 300.0)):
    """``n`` two-jet events (GeV) with a softer third jet, as a ROOT file would hold them."""
    rng = np.random.default_rng(seed)
    return {
        "pt": (rng.uniform(1000, 1500, (n, 3)) * [1.0, 0.9, 0.05]).tolist(),
        "eta": rng.uniform(-1, 1, (n, 3)).tolist(),
        "phi": rng.uniform(-3, 3, (n, 3)).tolist(),
        "mass": (rng.uniform(0.8, 1.2, (n, 3)) * [*mass, 10.0]).tolist(),
        "tau1": rng.uniform(0.3, 0.6, (n, 3)).tolist(),
        "tau2": rng.uniform(0.1, 0.3, (n, 3)).tolist(),
        "tau3": rng.uniform(0.05, 0.1, (n, 3)).tolist(),
    }


@pytest.fixture
def files(tmp_path, monkeypatch):
    """signal.root (37 events), qcd_1/2/10.root (20, 25, 30 events), in the working dir."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    write_jets_root(tmp_path / "data" / "signal.root", dijets(37, 0, (500.0, 100.0)))
    for i, n in ((1, 20), (2, 25), (10, 30)):
        write_jets_root(tmp_path / "data" / f"qcd_{i}.root", dijets(n, i))
    return tmp_path


def sheet(tmp_path, *rows, header=HEADER, name="datasets.tsv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_sheet_with_comments_globs_and_per_file_labels(files):
    path = files / "datasets.tsv"
    path.write_text(
        "# The inputs of this analysis.\n"
        "   # an indented comment\n"
        "\n"
        f"{HEADER}\n"
        "signal\tdata/signal.root\tgenhep\t1\t4e-5\t\n"
        "# QCD, three files by a glob:\n"
        "qcd\tdata/qcd_*.root\tgenhep\t0\t0.0021\tevents\n"
        "\n"
    )
    signal, qcd = load_datasets(path)
    assert signal == Dataset("signal", ("data/signal.root",), "genhep", "genhep", 1, 4e-5)
    # Sorted as strings, as Snakemake would list them.
    assert qcd.paths == ("data/qcd_1.root", "data/qcd_10.root", "data/qcd_2.root")
    assert qcd.label == 0 and qcd.label_constant == 0 and qcd.label_branch is None
    assert qcd.weight == 0.0021 and qcd.weight_constant == 0.0021 and qcd.tree == "events"
    assert signal.has_labels and qcd.has_labels
    assert dataset_paths([signal, qcd])[0] == "data/signal.root"
    # A label branch, several ';'-separated paths, optional columns left out.
    path = sheet(
        files,
        "both\tdata/signal.root ; data/qcd_1.root;\tgenhep\tlabel",
        "none\tdata/qcd_2.root\tgenhep",
        header="name\tpaths\tmapping\tlabel",
    )
    both, none = load_datasets(path)
    assert both.paths == ("data/signal.root", "data/qcd_1.root")
    assert both.label == "label" and both.label_branch == "label" and both.has_labels
    assert none.label is None and not none.has_labels and none.weight is None
    assert Dataset.from_dict(json.loads(json.dumps(both.as_dict()))) == both


ERRORS = [
    # (rows, header or None, column, fragment)
    (["a\tdata/signal.root\tgenhep\t1\t\t"], HEADER + "\tlable", "lable", "unknown column"),
    (
        ["a\tdata/signal.root\tgenhep"],
        "name\tpaths\tlabel",
        "mapping",
        "missing column(s) ['mapping']",
    ),
    (
        ["sig\tdata/signal.root\tgenhep\t1\t\t", "sig\tdata/qcd_1.root\tgenhep\t0\t\t"],
        None,
        "name",
        "'sig' is already the name of row 1 (line 2)",
    ),
    (["bad name\tdata/signal.root\tgenhep\t1\t\t"], None, "name", "A-Z a-z 0-9 _ -"),
    (["qcd\tdata/qcd_*.rot\tgenhep\t0\t\t"], None, "paths", "'data/qcd_*.rot' matches no file"),
    (["sig\tdata/signl.root\tgenhep\t1\t\t"], None, "paths", "'data/signl.root' does not exist"),
    (["sig\tdata\tgenhep\t1\t\t"], None, "paths", "'data' is not a file"),
    (
        ["sig\tdata/signal.root\tgenhep\t1\t\t", "all\tdata/*.root\tgenhep\t0\t\t"],
        None,
        "paths",
        "'data/signal.root' is already in dataset 'sig', row 1 (line 2)",
    ),
    (["sig\tdata/signal.root\tgenhep\t2\t\t"], None, "label", "'2' is neither 0 or 1"),
    (["sig\tdata/signal.root\tgenhep\tis signal\t\t"], None, "label", "nor the name of a label"),
    (["sig\tdata/signal.root\tgenhep\t1\t-3\t"], None, "weight", "positive, finite"),
    (["sig\tdata/signal.root\tgenhep\t1\t1 pb\t"], None, "weight", "neither a number"),
    (["sig\tdata/signal.root\tdelphi\t1\t\t"], None, "mapping", "neither a mapping name"),
    (["sig\tdata/signal.root\tmaps/m.yaml\t1\t\t"], None, "mapping", "does not exist"),
    (["sig\t\tgenhep\t1\t\t"], None, "paths", "empty"),
    (["sig\tdata/signal.root\tgenhep\t1\t\t\textra"], None, None, "7 tab-separated cells"),
]


@pytest.mark.parametrize("rows, header, column, fragment", ERRORS)
def test_each_sheet_error_names_file_row_and_column(files, rows, header, column, fragment):
    path = sheet(files, *rows, header=header or HEADER)
    with pytest.raises(GenhepError) as err:
        load_datasets(path)
    message = str(err.value)
    assert message.startswith(f"{path}, "), message
    where = "header (line 1)" if header else f"row {len(rows)} (line {len(rows) + 1})"
    assert where in message, message
    if column:
        assert f"column {column!r}" in message, message
    assert fragment in message, message


def test_spaces_instead_of_tabs_and_an_empty_sheet(files):
    path = sheet(files, "a data/signal.root genhep", header="name paths mapping")
    with pytest.raises(GenhepError, match="separated by tabs, not spaces"):
        load_datasets(path)
    with pytest.raises(GenhepError, match="header but no rows"):
        load_datasets(sheet(files))
    with pytest.raises(GenhepError, match="does not exist"):
        load_datasets(files / "nope.tsv")


def test_files_the_workflow_writes_need_not_exist_yet(files):
    path = sheet(files, "toy\tresults/data/toy.root\tgenhep\tlabel\t\t")
    with pytest.raises(GenhepError, match="'results/data/toy.root' does not exist"):
        load_datasets(path)
    (toy,) = load_datasets(path, check_files=False)
    assert toy.paths == ("results/data/toy.root",) and toy.label == "label"


def test_shipped_sheet_describes_the_toy_data():
    (toy,) = load_datasets(REPO / "config" / "datasets.tsv", check_files=False)
    assert toy.name == "toy" and toy.paths == ("results/data/toy.root",)
    assert toy.mapping == "genhep" and toy.label == "label" and toy.weight is None
    # The commented examples are valid rows once uncommented.
    lines = (REPO / "config" / "datasets.tsv").read_text().splitlines()
    examples = [line[1:] for line in lines if line.startswith("#") and line.count("\t") == 5]
    assert [e.split("\t")[0] for e in examples] == ["signal", "qcd", "lhco_rnd"]


def test_signal_and_background_datasets_get_their_labels(files):
    path = sheet(
        files,
        "signal\tdata/signal.root\tgenhep\t1\t4e-5\t",
        "qcd\tdata/qcd_*.root\tgenhep\t0\t0.0021\t",
    )
    out = files / "events.h5"
    prov = ingest_datasets(load_datasets(path), out, chunk_size=16)
    data, attrs = read_table(out)
    assert list(data) == ["mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max", "label", "weight"]
    assert attrs["events_kept"] == 37 + 20 + 30 + 25
    assert int((data["label"] == 1).sum()) == 37 and int((data["label"] == 0).sum()) == 75
    assert data["label"].dtype == np.int32
    np.testing.assert_array_equal(data["label"][:37], 1)  # rows in sheet order
    np.testing.assert_array_equal(data["weight"], np.where(data["label"] == 1, 4e-5, 0.0021))
    # The heavier jet: 500 GeV (±20%) in the signal, 300 GeV (±20%) in QCD.
    mj_max = data["mj_min"] + data["delta_mj"]
    assert mj_max[37:].max() < 0.37 < 0.39 < mj_max[:37].min()
    assert attrs["file_datasets"] == ["signal", "qcd", "qcd", "qcd"]
    assert attrs["file_labels"] == [1, 0, 0, 0]
    assert attrs["events_kept_per_file"] == [37, 20, 30, 25]
    assert [p.rsplit("/", 1)[1] for p in attrs["source_files"]] == [
        "signal.root",
        "qcd_1.root",
        "qcd_10.root",
        "qcd_2.root",
    ]
    sig, qcd = attrs["datasets"]
    assert sig["name"] == "signal" and sig["label"] == 1 and sig["events_kept"] == 37
    assert qcd["weight"] == 0.0021 and qcd["events_read"] == 75 and len(qcd["files"]) == 3
    # The provenance of a plain ingestion is all there, with the same tree and mapping.
    assert attrs["tree"] == "events" and attrs["branch_mapping"]["label"] is None
    assert prov["dropped_fewer_than_2_jets"] == 0


def test_a_label_branch_and_a_constant_label_mix(files):
    write_jets_root(files / "data" / "toy.root", dijets(12, 5), label=[0, 1] * 6)
    path = sheet(
        files,
        "toy\tdata/toy.root\tgenhep\tlabel\t\t",
        "signal\tdata/signal.root\tgenhep\t1\t\t",
    )
    prov = ingest_datasets(load_datasets(path), files / "o.h5")
    data, attrs = read_table(files / "o.h5")
    assert data["label"].sum() == 6 + 37 and prov["file_labels"] == ["label", 1]


def test_an_lhco_dataset_row_ingests_with_root_datasets(files):
    cols = lhco_events(60, seed=2)
    write_pandas_fixed(files / "data" / "rnd.features.h5", cols)
    path = sheet(
        files,
        "rnd\tdata/rnd.features.h5\tlhco_rnd\tlabel\t\t",
        "signal\tdata/signal.root\tgenhep\t1\t\t",
    )
    rnd, signal = load_datasets(path)
    assert rnd.branch_mapping().file_format == "lhco_hdf5"
    prov = ingest_datasets([rnd.as_dict(), signal], files / "mixed.h5")
    data, attrs = read_table(files / "mixed.h5")
    assert attrs["events_kept"] == 60 + 37
    np.testing.assert_array_equal(data["label"][:60], cols["label"].astype(np.int32))
    assert data["label"][60:].sum() == 37
    assert attrs["tree"] == {"rnd": "df", "signal": "events"}
    assert prov["branch_mapping"]["rnd"]["format"] == "lhco_hdf5"


def test_datasets_must_agree_on_columns(files):
    (files / "maps").mkdir()
    (files / "maps" / "no_taus.yaml").write_text(
        "preset: genhep\njets: {tau1: null, tau2: null, tau3: null}\n"
    )
    path = sheet(
        files,
        "signal\tdata/signal.root\tgenhep\t1\t\t",
        "qcd\tdata/qcd_1.root\tmaps/no_taus.yaml\t0\t\t",
    )
    datasets = load_datasets(path)
    assert datasets[1].mapping_spec == {
        "preset": "genhep",
        "jets": {"tau1": None, "tau2": None, "tau3": None},
    }
    with pytest.raises(GenhepError, match=r"do not give the same columns.*'qcd' gives \['mjj'"):
        ingest_datasets(datasets, files / "o.h5")
    path = sheet(
        files,
        "signal\tdata/signal.root\tgenhep\t1\t\t",
        "qcd\tdata/qcd_1.root\tgenhep\t\t\t",
    )
    with pytest.raises(GenhepError, match="a label and a weight in all of them or in none"):
        ingest_datasets(load_datasets(path), files / "o.h5")
    assert not (files / "o.h5").exists()


def test_cli_ingests_datasets_given_as_json(files):
    path = sheet(
        files,
        "signal\tdata/signal.root\tgenhep\t1\t\t",
        "qcd\tdata/qcd_*.root\tgenhep\t0\t\t",
    )
    datasets = load_datasets(path)
    rows = [d.as_dict() for d in datasets]
    roots = ["--roots", *dataset_paths(datasets)]
    out = files / "events.h5"
    params = json.dumps({"datasets": rows, "chunk_size": 10})
    result = run_script("ingest", "--params", params, *roots, "--features", out)
    assert result.returncode == 0, result.stderr
    data, attrs = read_table(out)
    assert data["label"].sum() == 37 and len(data["label"]) == 112
    assert attrs["file_datasets"][0] == "signal" and attrs["chunk_size"] == 10
    # datasets replace the mapping (and tree), their files are the roots; a bad file is one
    # clear line.
    both = json.dumps({"datasets": rows, "mapping": "genhep"})
    both = run_script("ingest", "--params", both, *roots, "--features", out)
    assert both.returncode == 1
    assert both.stderr.strip() == (
        "genhep ingest: error: --params: datasets replaces mapping and tree: give one or the other"
    )
    neither = run_script("ingest", "--params", "{}", *roots, "--features", out)
    assert neither.returncode == 1 and "give a mapping (for the --roots files) or datasets" in (
        neither.stderr
    )
    other = run_script("ingest", "--params", params, *roots[:-1], "--features", out)
    assert other.returncode == 1 and "--roots: must be the datasets' files" in other.stderr
    bad = {"datasets": [{"name": "x", "paths": ["data/none.root"], "mapping": "genhep"}]}
    failed = run_script(
        "ingest", "--params", json.dumps(bad), "--roots", "data/none.root", "--features",
        files / "bad.h5",
    )  # fmt: skip
    assert failed.returncode == 1
    assert (
        failed.stderr.strip() == "genhep ingest: error: data/none.root: input file does not exist"
    )
    assert not (files / "bad.h5").exists()


def test_the_sheet_module_imports_nothing_heavy(tmp_path):
    code = (
        "import sys; from genhep.datasets import load_datasets; "
        f"load_datasets({str(REPO / 'config' / 'datasets.tsv')!r}, check_files=False); "
        "heavy = {'torch', 'numpy', 'uproot', 'awkward', 'h5py'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env_with_venv()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
