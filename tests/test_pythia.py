"""The pythia source: Pythia 8 events clustered with FastJet, written in the toy's schema."""

import awkward as ak
import numpy as np
import pytest
import uproot

from genhep.data.pythia import STAGE, write_shard
from genhep.errors import GenhepError
from genhep.ingest import ingest
from genhep.io.hdf5 import read_table
from genhep.io.mappings import resolve_mapping
from genhep.settings.data import PythiaSettings

pytest.importorskip("pythia8mc", reason="the pythia extra is not installed")
pytestmark = pytest.mark.slow


def shard(tmp_path, name, **kw):
    params = PythiaSettings(**{"events": 50, **kw})
    path = tmp_path / f"{name}.root"
    info = write_shard(params, path)
    return path, info, uproot.open(path)["events"].arrays()


def test_qcd_shard_has_massive_jets_valid_tau21_and_ingests(tmp_path):
    path, info, events = shard(tmp_path, "qcd", process="qcd", seed=4)
    assert info["events"] == len(events) == 50
    assert set(events.fields) >= {f"jet_{k}" for k in ("pt", "eta", "phi", "mass", "tau1")}
    pt = ak.flatten(events.jet_pt)
    assert ak.all(pt >= 200) and ak.all(ak.flatten(events.jet_mass) > 0)
    # Leading first, as the ingestion expects (it sorts anyway).
    assert ak.all(events.jet_pt[:, :-1] >= events.jet_pt[:, 1:])
    tau21 = ak.flatten(events.jet_tau2 / events.jet_tau1)
    assert ak.all((tau21 >= 0) & (tau21 <= 1))
    # pTHatMin 1200 GeV: the leading jet is hard.
    assert np.median(ak.to_numpy(events.jet_pt[ak.num(events.jet_pt) > 0][:, 0])) > 1000
    out = tmp_path / "qcd.h5"
    ingest([path], resolve_mapping("genhep"), out)
    table, attrs = read_table(out)
    assert attrs["events_kept"] > 40 and (table["mjj"] > 0).all()
    assert ((table["tau21_min"] >= 0) & (table["tau21_min"] <= 1)).all()
    assert (table["label"] == 0).all()


def test_seeds_make_shards_independent_and_reproducible(tmp_path):
    _, _, a = shard(tmp_path, "a", process="qcd", seed=1, events=10)
    _, _, b = shard(tmp_path, "b", process="qcd", seed=1, events=10)
    _, _, c = shard(tmp_path, "c", process="qcd", seed=2, events=10)
    assert ak.to_list(a) == ak.to_list(b)
    assert ak.to_list(a.jet_pt) != ak.to_list(c.jet_pt)
    # Shard k of seed s runs with seed s + k: shard 1 of seed 1 is shard 0 of seed 2 (the
    # stage, as the workflow runs it: the process and the shard in its settings).
    settings = {"process": "qcd", "shard": 1, "seed": 1, "events": 10}
    info = STAGE(settings, {}, {"root": tmp_path / "d.root"})
    assert info["shard"] == 1 and info["seed"] == 2
    d = uproot.open(tmp_path / "d.root")["events"].arrays()
    assert ak.to_list(d) == ak.to_list(c)


def test_signal_jets_peak_at_the_configured_x_and_y_masses(tmp_path):
    _, _, events = shard(tmp_path, "sig", process="signal", seed=7, events=200)
    two = events[ak.num(events.jet_mass) >= 2]
    m1, m2 = (ak.to_numpy(two.jet_mass[:, i]) for i in (0, 1))
    heavy, light = np.maximum(m1, m2), np.minimum(m1, m2)
    # X = 500 GeV, Y = 100 GeV: the most populated 50 (20) GeV bin of the heavier
    # (lighter) jet mass holds the X (Y) mass, within hadronization and out-of-cone losses.
    counts, edges = np.histogram(heavy, bins=np.arange(0, 800, 50))
    assert 400 <= edges[counts.argmax()] <= 550
    counts, edges = np.histogram(light, bins=np.arange(0, 400, 20))
    assert 60 <= edges[counts.argmax()] <= 140
    assert ak.all(events.label == 1)


def test_bad_settings_name_the_key():
    with pytest.raises(GenhepError, match=r"config key pythia.pthat: unknown setting"):
        PythiaSettings.from_config({"pthat": 100, "process": "qcd"})
    with pytest.raises(GenhepError, match="process must be one of"):
        PythiaSettings.from_config({"process": "ttbar"})
