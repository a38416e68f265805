import json
from collections import Counter

import awkward as ak
import numpy as np
import pytest
import uproot

from conftest import DATA, run_script, write_jets_root
from genhep.data.toy import write_root
from genhep.errors import GenhepError
from genhep.ingest import Selection, _chunk_features, ingest
from genhep.io.hdf5 import read_table
from genhep.io.mappings import resolve_mapping
from genhep.settings.data import ToySettings


def run_ingest(inputs, output, mapping="genhep", **settings):
    # As in the workflow: details go to the log, the console gets the one error line.
    log = output.with_suffix(".log")
    params = json.dumps({"mapping": mapping, **settings})
    args = ["--params", params, "--roots", *inputs, "--features", output, "--log", log]
    return run_script("ingest", *args)


def assert_failed_cleanly(result, output, *fragments):
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0, f"expected one line, got:\n{message}"
    assert message.startswith("genhep ingest: error:")
    for fragment in fragments:
        assert fragment in message
    assert not output.exists()
    assert not list(output.parent.glob(f".{output.name}.tmp*"))


def test_small_file_features_counts_and_provenance(small_event_file, tmp_path):
    out = tmp_path / "events.h5"
    prov = ingest([small_event_file], resolve_mapping("genhep"), out, Selection(), chunk_size=2)
    data, attrs = read_table(out)
    assert list(data) == ["mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max", "label"]
    assert attrs["events_read"] == 3 and attrs["events_kept"] == 2
    assert attrs["dropped_fewer_than_2_jets"] == 1
    assert attrs["tree"] == "events"
    assert attrs["source_files"] == [str(small_event_file.resolve())]
    assert "two leading jets" in attrs["selection"]
    assert prov["events_dropped"] == 1
    np.testing.assert_array_equal(data["label"], [0, 1])
    # Event 1: jets of 100 and 300 GeV -> mj_min 0.1 TeV, tau21 of the lighter = 0.2/0.4.
    assert data["mj_min"][0] == pytest.approx(0.1, rel=1e-6)
    assert data["delta_mj"][0] == pytest.approx(0.2, rel=1e-6)
    assert data["tau21_min"][0] == pytest.approx(0.5, rel=1e-6)
    assert data["tau21_max"][0] == pytest.approx(0.2, rel=1e-6)
    with __import__("h5py").File(out) as f:
        assert f["mjj"].attrs["unit"] == "TeV"


def test_toy_file_round_trip_through_ingest_counts_signal(tmp_path):
    write_root(ToySettings(n_events=20_000, signal_fraction=0.02, seed=4), tmp_path / "toy.root")
    ingest([tmp_path / "toy.root"], resolve_mapping("genhep"), tmp_path / "f.h5", chunk_size=7000)
    data, attrs = read_table(tmp_path / "f.h5")
    assert attrs["events_kept"] == 20_000
    assert data["label"].sum() == 400
    assert data["mjj"].min() > 2.49  # the toy threshold, in TeV


def test_mjj_window_and_eta_cut_are_applied_and_counted(small_event_file, tmp_path):
    sel = Selection(max_abs_eta=2.5, mjj_min=2.3)
    prov = ingest([small_event_file], resolve_mapping("genhep"), tmp_path / "o.h5", sel)
    assert prov["dropped_mjj_window"] == 1
    assert prov["dropped_fewer_than_2_jets"] == 1
    assert prov["events_kept"] == 1


def test_leading_jet_trigger_cuts_on_the_leading_jet_and_is_counted(small_event_file, tmp_path):
    # Leading jets 1000 and 1200 GeV (the third event has one jet): a 1.1 TeV trigger
    # keeps the second event only, and the provenance says why the first went.
    sel = Selection(leading_jet_min_pt=1.1)
    prov = ingest([small_event_file], resolve_mapping("genhep"), tmp_path / "t.h5", sel)
    assert prov["events_kept"] == 1
    assert prov["dropped_trigger"] == 1 and prov["dropped_fewer_than_2_jets"] == 1
    assert "leading jet pt >= 1.1 TeV (trigger)" in prov["selection"]
    table, _ = read_table(tmp_path / "t.h5")
    assert table["label"].tolist() == [1]
    # Nothing passes a 1.3 TeV trigger: the usual "no events left" error names the cut.
    with pytest.raises(GenhepError, match=r"trigger: 2"):
        ingest(
            [small_event_file],
            resolve_mapping("genhep"),
            tmp_path / "u.h5",
            Selection(leading_jet_min_pt=1.3),
        )
    assert not (tmp_path / "u.h5").exists()


def test_trigger_on_a_feature_table_is_refused_by_its_config_key(tmp_path):
    out = tmp_path / "f.h5"
    (tmp_path / "lhco.root").write_bytes(b"")  # refused before it is read
    with pytest.raises(GenhepError, match=r"ingest\.selection\.leading_jet_min_pt: .*lhco.root"):
        ingest(
            [tmp_path / "lhco.root"],
            resolve_mapping("lhco_flat"),
            out,
            Selection(leading_jet_min_pt=1.2),
        )
    assert not out.exists()


def test_delphes_preset_picks_tau_by_index_from_the_fixed_size_branch():
    # uproot's writer cannot write a jagged fixed-size branch such as Delphes'
    # 'FatJet.Tau[5]' (it mis-sizes the baskets), so this test feeds the reader's output
    # form, {branch name: awkward array}, straight into the feature step.
    chunk = {
        "FatJet.PT": ak.Array([[1500.0, 1400.0], [900.0]]),
        "FatJet.Eta": ak.Array([[0.1, -0.2], [0.0]]),
        "FatJet.Phi": ak.Array([[0.0, 3.1], [0.0]]),
        "FatJet.Mass": ak.Array([[120.0, 450.0], [90.0]]),
        "FatJet.Tau[5]": ak.to_regular(
            ak.Array([[[0.4, 0.2, 0.1, 0, 0], [0.5, 0.1, 0.05, 0, 0]], [[0.3, 0.1, 0.05, 0, 0]]]),
            axis=2,
        ),
    }
    mapping = resolve_mapping("delphes")
    assert mapping.tree == "Delphes"
    assert sorted(mapping.branches) == sorted(chunk)
    dropped = Counter()
    cols = _chunk_features(chunk, mapping, Selection(), dropped)
    assert dropped["fewer_than_2_jets"] == 1
    assert cols["mj_min"][0] == pytest.approx(0.12)
    assert cols["tau21_min"][0] == pytest.approx(0.5)  # lighter jet: 0.2 / 0.4
    assert cols["tau21_max"][0] == pytest.approx(0.2)  # heavier jet: 0.1 / 0.5
    assert "label" not in cols


def test_delphes_style_dotted_branch_names_read_from_root(tmp_path):
    arrays = {
        "FatJet.PT": ak.Array([[1500.0, 1400.0]]),
        "FatJet.Eta": ak.Array([[0.1, -0.2]]),
        "FatJet.Phi": ak.Array([[0.0, 3.1]]),
        "FatJet.Mass": ak.Array([[120.0, 450.0]]),
        **{f"FatJet.Tau{i}": ak.Array([[0.4 / i, 0.5 / i]]) for i in (1, 2, 3)},
    }
    path = tmp_path / "delphes.root"
    with uproot.recreate(path) as f:
        f.mktree("Delphes", {k: v.type.content for k, v in arrays.items()}).extend(arrays)
    mapping = resolve_mapping(
        {"preset": "delphes", "jets": {f"tau{i}": f"FatJet.Tau{i}" for i in (1, 2, 3)}}
    )
    ingest([path], mapping, tmp_path / "d.h5")
    data, attrs = read_table(tmp_path / "d.h5")
    assert data["mj_min"][0] == pytest.approx(0.12, rel=1e-6)
    assert data["tau21_min"][0] == pytest.approx(0.5, rel=1e-6)
    assert attrs["tree"] == "Delphes"


def test_real_cms_nanoaod_has_too_few_fat_jets(tmp_path):
    """A file nobody on this project wrote: 200 CMS open-data ttbar events, 2 AK8 jets in all."""
    out = tmp_path / "nano.h5"
    result = run_ingest([DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"], out, "nanoaod")
    assert_failed_cleanly(
        result, out, "no events left after selection", "read 200", "fewer_than_2_jets: 200"
    )


def test_real_cms_nanoaod_ttbar_through_its_ak4_jets(tmp_path):
    """The same tt̄ file through the AK4 jets (no N-subjettiness: kinematic features only)."""
    out = tmp_path / "ttbar.h5"
    result = run_ingest([DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"], out, "nanoaod_ak4")
    assert result.returncode == 0, result.stderr
    data, attrs = read_table(out)
    assert attrs["columns"] == ["mjj", "mj_min", "delta_mj"]
    # 200 events, 140 with at least two AK4 jets (counted with uproot below).
    with uproot.open(DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root") as f:
        n_jets = f["Events"]["nJet"].array(library="np")
    assert attrs["events_read"] == 200
    assert attrs["events_kept"] == int((n_jets >= 2).sum()) == 140
    mjj_gev = 1000 * data["mjj"]
    assert (mjj_gev > 0).all()
    # The two leading jets of a tt̄ event mostly come from the top decays (a W's two
    # jets, or jets of both tops): their mass sits around the W and top masses, not at
    # the TeV scale of the dijet searches. Measured median: 106 GeV.
    assert 60 < np.median(mjj_gev) < 250


def test_weight_branch_is_carried_into_the_table_and_the_splits(tmp_path):
    from genhep.contracts import load_split
    from genhep.preprocess import preprocess

    rng = np.random.default_rng(0)
    n = 400
    jets = {
        "pt": [[1500.0, 1400.0]] * n,
        "eta": [[0.1, -0.2]] * n,
        "phi": [[0.0, 3.0]] * n,
        "mass": rng.uniform(50, 500, (n, 2)).tolist(),
        "tau1": [[0.5, 0.4]] * n,
        "tau2": [[0.2, 0.3]] * n,
        "tau3": [[0.1, 0.1]] * n,
    }
    weight = rng.uniform(0.5, 2.0, n)
    path = write_jets_root(tmp_path / "w.root", jets, extra={"evt_weight": weight})
    mapping = resolve_mapping({"preset": "genhep", "label": None, "weight": "evt_weight"})
    ingest([path], mapping, tmp_path / "w.h5")
    table, attrs = read_table(tmp_path / "w.h5")
    assert attrs["columns"][-1] == "weight"
    np.testing.assert_allclose(table["weight"], weight)
    splits = {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")}
    preprocess(tmp_path / "w.h5", splits, tmp_path / "t.json")
    train = load_split(splits["train"])
    assert train["features"].shape[1] == 4  # the weight is not a feature
    np.testing.assert_allclose(train["weight"], weight[train["row"]])


def test_genhep_inspect_suggests_a_mapping_for_real_files(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    inspect = Path(sys.executable).parent / "genhep-inspect"
    nano = subprocess.run(
        [inspect, DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"], capture_output=True, text=True
    )
    assert nano.returncode == 0, nano.stderr
    assert "Events: 200 entries" in nano.stdout and "FatJet_tau1: float[]" in nano.stdout
    suggested = yaml.safe_load(nano.stdout.split("name the label branch if there is one):")[1])
    assert suggested["files"]["mapping"] == {"preset": "nanoaod"}
    flat = subprocess.run([inspect, DATA / "uproot-Zmumu.root"], capture_output=True, text=True)
    suggested = yaml.safe_load(flat.stdout.split("name the label branch if there is one):")[1])
    mapping = suggested["files"]["mapping"]
    assert mapping["kind"] == "flat" and mapping["columns"]["M"] == {"branch": "M", "unit": ""}
    missing = subprocess.run([inspect, tmp_path / "nope.root"], capture_output=True, text=True)
    assert missing.returncode == 1
    assert (
        missing.stderr.strip()
        == f"genhep-inspect: {tmp_path / 'nope.root'}: input file does not exist"
    )


def test_real_flat_ntuple_through_a_flat_mapping(tmp_path):
    """CMS dimuon events: read flat branches with units, compared with uproot directly."""
    mapping = {
        "kind": "flat",
        "tree": "events",
        "label": None,
        "columns": {"mjj": {"branch": "M", "unit": "GeV"}, "eta1": "eta1"},
    }
    out = tmp_path / "zmumu.h5"
    result = run_ingest([DATA / "uproot-Zmumu.root"], out, mapping, chunk_size=1000)
    assert result.returncode == 0, result.stderr
    data, attrs = read_table(out)
    with uproot.open(DATA / "uproot-Zmumu.root") as f:
        direct = f["events"].arrays(["M", "eta1"], library="np")
    np.testing.assert_allclose(data["mjj"], direct["M"] / 1000.0)
    np.testing.assert_allclose(data["eta1"], direct["eta1"])
    assert attrs["events_read"] == 2304 == attrs["events_kept"]
    assert np.median(data["mjj"]) == pytest.approx(0.091, abs=0.002)  # the Z peak


def test_missing_file(tmp_path):
    out = tmp_path / "o.h5"
    assert_failed_cleanly(
        run_ingest([tmp_path / "nope.root"], out), out, "nope.root", "does not exist"
    )


def test_not_a_root_file(tmp_path):
    bad = tmp_path / "notes.root"
    bad.write_text("these are my notes, not events\n" * 10)
    out = tmp_path / "o.h5"
    assert_failed_cleanly(run_ingest([bad], out), out, str(bad), "not a ROOT file")


def test_truncated_root_file(tmp_path):
    write_root(ToySettings(n_events=20_000, seed=1), tmp_path / "full.root")
    blob = (tmp_path / "full.root").read_bytes()
    cut = tmp_path / "cut.root"
    cut.write_bytes(blob[: len(blob) // 2])
    out = tmp_path / "o.h5"
    assert_failed_cleanly(run_ingest([cut], out), out, str(cut), "truncated or corrupt")


def test_missing_tree(small_event_file, tmp_path):
    out = tmp_path / "o.h5"
    result = run_ingest([small_event_file], out, tree="Delphes")
    assert_failed_cleanly(
        result, out, str(small_event_file), "no TTree named 'Delphes'", "['events']"
    )


def test_missing_branch(tmp_path):
    path = write_jets_root(
        tmp_path / "nomass.root", {"pt": [[1.0, 2.0]], "eta": [[0, 0]], "phi": [[0, 1]]}
    )
    out = tmp_path / "o.h5"
    # The message lists the branches that do exist, closest to the missing one first.
    assert_failed_cleanly(
        run_ingest([path], out),
        out,
        str(path),
        "no branch 'jet_mass'",
        "files.mapping",
        "Branches in this TTree: jet_eta",
        "jet_pt",
    )


def test_second_file_bad_leaves_nothing_behind(small_event_file, tmp_path):
    out = tmp_path / "o.h5"
    result = run_ingest([small_event_file, tmp_path / "missing.root"], out)
    assert_failed_cleanly(result, out, "missing.root")


def test_nan_and_inf_features_are_dropped_and_counted(tmp_path):
    jets = {
        "pt": [[1000.0, 900.0], [1000.0, 900.0], [1000.0, 900.0]],
        "eta": [[0.0, 0.5], [0.0, 0.5], [0.0, 0.5]],
        "phi": [[0.0, 3.0], [0.0, 3.0], [0.0, 3.0]],
        "mass": [[100.0, 200.0], [np.nan, 200.0], [100.0, 200.0]],
        "tau1": [[0.4, 0.4], [0.4, 0.4], [0.4, 0.4]],
        "tau2": [[0.2, 0.2], [0.2, 0.2], [np.inf, 0.2]],
        "tau3": [[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]],
    }
    path = write_jets_root(tmp_path / "nan.root", jets, label=[0, 0, 1])
    prov = ingest([path], resolve_mapping("genhep"), tmp_path / "o.h5")
    assert prov["dropped_nonfinite_feature"] == 2 and prov["events_kept"] == 1
    data, _ = read_table(tmp_path / "o.h5")
    assert np.isfinite(np.column_stack(list(data.values()))).all()


def test_zero_events_after_selection(small_event_file, tmp_path):
    out = tmp_path / "o.h5"
    result = run_ingest([small_event_file], out, selection={"mjj_min": 50.0})
    assert_failed_cleanly(
        result, out, "no events left after selection", "mjj_window: 2", "mjj >= 50.0 TeV"
    )


def test_bad_mappings_name_the_config_key():
    with pytest.raises(GenhepError, match="files.mapping: unknown preset 'delphi'"):
        resolve_mapping("delphi")
    with pytest.raises(GenhepError, match=r"files.mapping.jets: missing \['tau3'\]"):
        resolve_mapping(
            {
                "kind": "jets",
                "tree": "t",
                "jets": {k: k for k in ("pt", "eta", "phi", "mass", "tau1", "tau2")},
            }
        )
    with pytest.raises(GenhepError, match="files.mapping.columns.mjj.unit"):
        resolve_mapping(
            {"kind": "flat", "tree": "t", "columns": {"mjj": {"branch": "M", "unit": "eV"}}}
        )
