"""The Pythia jets source: jets as particle clouds, one class and shard per file, read back
with the ``genhep`` cloud preset."""

import json
import sys

import awkward as ak
import numpy as np
import pytest
import uproot

import genhep.data.pythia_jets as pj
from conftest import run_stage
from genhep.clouds import JETNET_CLASSES
from genhep.clouds.constituents import sum_mismatch
from genhep.clouds.root import read_root_clouds
from genhep.errors import GenhepError
from genhep.settings.pythia_jets import JET_CLASSES, PythiaJetsSettings

pytest.importorskip("pythia8mc", reason="the pythia extra is not installed")
pytest.importorskip("fastjet", reason="the pythia extra is not installed")

WINDOW = (800.0, 1600.0)  # GeV, the settings' default jet pT window
LARGE_N = 400  # more than any jet's constituents: the reader keeps them all


def shard(path, jet_class, events=60, **kw):
    info = pj.write_shard(PythiaJetsSettings(jet_class=jet_class, events=events, **kw), path)
    return info, uproot.open(path)["jets"].arrays()


@pytest.fixture(scope="module")
def gluons(tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "g.root"
    return (path, *shard(path, "g"))


@pytest.fixture(scope="module")
def tops(tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "t.root"
    return (path, *shard(path, "t"))


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["gluons", "tops"])
def test_clouds_sum_back_to_their_jets_with_consistent_masks(sample, request):
    path, info, raw = request.getfixturevalue(sample)
    clouds = read_root_clouds(path, "genhep", n_particles=LARGE_N)
    assert len(clouds) == info["jets"] > 20
    count = ak.to_numpy(raw.jet_num_particles)
    assert count.max() < LARGE_N  # N large enough: every constituent read back
    # Masks: a prefix (checked by Clouds) as long as the jet's constituent count.
    np.testing.assert_array_equal(clouds.mask.sum(axis=1), count)
    np.testing.assert_array_equal(clouds.jets["num_particles"], count)
    # The constituents, taken massless (as the source clusters them), sum back to the jet.
    miss = sum_mismatch(clouds.particles, clouds.mask, clouds.jets)
    assert np.abs(miss["pt"]).max() < 0.01 and np.abs(miss["mass"]).max() < 0.01
    assert np.abs(miss["eta"]).max() < 1e-4 and np.abs(miss["phi"]).max() < 1e-4
    # Hardest first, Δφ wrapped, pT in the window (TeV after reading), the class's label.
    assert ak.all(raw.part_ptrel[:, :-1] >= raw.part_ptrel[:, 1:])
    phi = ak.to_numpy(ak.flatten(raw.part_phirel))
    assert ((phi > -np.pi) & (phi <= np.pi)).all()
    pt = clouds.jets["pt"] * 1000
    assert ((pt >= WINDOW[0]) & (pt <= WINDOW[1])).all()
    assert (np.abs(ak.to_numpy(raw.jet_eta)) < 2.5).all()
    assert (clouds.label == JETNET_CLASSES.index(info["jet_class"])).all()
    # The leading-N cut is the reader's: the first 30 of the full clouds.
    short = read_root_clouds(path, "genhep", n_particles=30)
    np.testing.assert_array_equal(short.particles, clouds.particles[:, :30])
    np.testing.assert_array_equal(short.jets["num_particles"], np.minimum(count, 30))
    record = json.loads(uproot.open(path)[pj.PARAMS_KEY])
    assert record["jet_class"] == info["jet_class"] and record["pythia_seed"] == info["seed"]


@pytest.mark.slow
def test_top_jets_are_heavier_than_gluon_jets(gluons, tops):
    # Gluon jets of R = 0.8 at 1 TeV are heavy too, with a long tail (all constituents,
    # multi-parton interactions included): their mean is no robust separator at 60
    # events (seed 1: 181 GeV against the tops' 180). Measured over seeds 1 to 6, 60
    # events each: top median 175-182 GeV, gluon median 121-154 GeV; the share in
    # 140-210 GeV 0.59-0.78 for tops, 0.20-0.35 for gluons.
    g_mass, t_mass = (ak.to_numpy(s[2].jet_mass) for s in (gluons, tops))
    assert t_mass.mean() > 120
    assert 160 < np.median(t_mass) < 195  # the top peak
    assert np.median(t_mass) > np.median(g_mass) + 15
    near_top = [np.mean((m > 140) & (m < 210)) for m in (g_mass, t_mass)]
    assert near_top[1] > 1.5 * near_top[0]


@pytest.mark.slow
def test_shards_are_seeded_and_blocks_change_nothing(tmp_path, gluons, monkeypatch):
    # The same class and shard again, now generated and written 7 events at a time.
    monkeypatch.setattr(pj, "BLOCK_EVENTS", 7)
    info, again = shard(tmp_path / "again.root", "g")
    assert ak.to_list(again) == ak.to_list(gluons[2]) and info["jets"] == gluons[1]["jets"]
    _, other = shard(tmp_path / "other.root", "g", shard=1, events=20)
    assert ak.to_list(other.jet_pt) != ak.to_list(gluons[2].jet_pt[: len(other)])
    # Classes draw different random numbers from one config seed.
    seeds = {c: PythiaJetsSettings(jet_class=c, shard=3).pythia_seed for c in JET_CLASSES}
    assert len(set(seeds.values())) == len(JET_CLASSES) and seeds["g"] == 4


@pytest.mark.slow
def test_stage_writes_the_file_and_refuses_an_unknown_class(tmp_path):
    out = tmp_path / "w.root"
    params = {"jet_class": "w", "shard": 2, "events": 30}
    result = run_stage(pj.STAGE, "--params", json.dumps(params), "--root", out)
    assert result.returncode == 0, result.stderr
    w = uproot.open(out)["jets"].arrays()
    assert len(w) > 5 and ak.all(w.jet_class == JETNET_CLASSES.index("w"))
    assert 70 < np.median(ak.to_numpy(w.jet_mass)) < 110  # the W peak, with some UE
    params["jet_class"] = "b"
    result = run_stage(pj.STAGE, "--params", json.dumps(params), "--root", tmp_path / "b.root")
    assert result.returncode == 1 and "jet_class must be one of g, q, t, w, z" in result.stderr
    assert not (tmp_path / "b.root").exists()


@pytest.mark.slow
def test_an_empty_window_names_its_keys(tmp_path):
    # Partons above 1.5 TeV leave no leading jet in 200-210 GeV.
    params = PythiaJetsSettings(
        jet_class="g", events=20, jet_pt_min=200, jet_pt_max=210, pthat_min=1500
    )
    with pytest.raises(GenhepError, match=r"jets.pythia.jet_pt_min = 200 .*jet_pt_max = 210"):
        pj.write_shard(params, tmp_path / "empty.root")
    assert not (tmp_path / "empty.root").exists()


def test_missing_packages_give_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)  # import fails
    with pytest.raises(GenhepError, match=r"pip install 'genhep\[pythia\]'"):
        pj._pythia(PythiaJetsSettings(jet_class="g"))


def test_settings_check_class_window_and_keys():
    assert JET_CLASSES == JETNET_CLASSES
    with pytest.raises(GenhepError, match="jet_class must be one of g, q, t, w, z.*'top'"):
        PythiaJetsSettings(jet_class="top")
    with pytest.raises(GenhepError, match="jets.pythia: no jet_class given"):
        PythiaJetsSettings.from_config({"events": 10})
    with pytest.raises(GenhepError, match="config key jets.pythia.jet_pt_max: need"):
        PythiaJetsSettings(jet_class="g", jet_pt_min=900, jet_pt_max=800)
    with pytest.raises(GenhepError, match="config key jets.pythia.pthat: unknown setting"):
        PythiaJetsSettings.from_config({"pthat": 700, "jet_class": "g"})
    with pytest.raises(GenhepError, match="config key jets.pythia.seed"):
        PythiaJetsSettings(jet_class="z", seed=899_000_000)
    settings = PythiaJetsSettings(jet_class="q")
    assert settings.pthat == 720 and settings.match_radius == settings.jet_r == 0.8
    assert "HardQCD:nQuarkNew = 3" in pj.configuration(settings)
