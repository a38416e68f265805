"""Jets given as Cartesian components (px, py, pz, E), and genhep-inspect's jets mappings."""

import json

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from conftest import run_script, write_jets_root
from genhep.errors import GenhepError
from genhep.ingest import ingest
from genhep.inspect_root import jet_collections, main, suggest_mappings
from genhep.io.hdf5 import read_table
from genhep.io.mapped import jets_from_chunk
from genhep.io.mappings import resolve_mapping

FEATURES = ["mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max"]
CARTESIAN = {"px": "Jet_Px", "py": "Jet_Py", "pz": "Jet_Pz", "energy": "Jet_E"}
TAUS = {"tau1": "Jet_tau1", "tau2": "Jet_tau2", "tau3": "Jet_tau3"}
HEADER = "name the label branch if there is one):"


def polar_events(n=40, seed=3):
    """Per-event jet lists in GeV, 0 to 4 jets per event, and a label."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 5, n)
    total = counts.sum()
    flat = {
        "pt": rng.uniform(200.0, 1500.0, total),
        "eta": rng.uniform(-2.5, 2.5, total),
        "phi": rng.uniform(-np.pi, np.pi, total),
        "mass": rng.uniform(5.0, 400.0, total),
        "tau1": rng.uniform(0.2, 0.6, total),
        "tau2": rng.uniform(0.05, 0.2, total),
        "tau3": rng.uniform(0.01, 0.05, total),
    }
    return flat, counts, rng.integers(0, 2, n).astype(np.int32)


def cartesian(flat):
    px = flat["pt"] * np.cos(flat["phi"])
    py = flat["pt"] * np.sin(flat["phi"])
    pz = flat["pt"] * np.sinh(flat["eta"])
    energy = np.sqrt(px**2 + py**2 + pz**2 + flat["mass"] ** 2)
    return {"Px": px, "Py": py, "Pz": pz, "E": energy}


def write_record_root(path, collections, flat_branches, tree="Events"):
    """NanoAOD-like: each collection {name: {field: flat values}, counts} becomes branches
    name_field sharing one counter branch nname; flat branches are one number per event."""
    arrays = {
        name: ak.zip({k: ak.unflatten(v, counts) for k, v in fields.items()})
        for name, (fields, counts) in collections.items()
    }
    arrays.update(flat_branches)
    types = {k: v.type.content if isinstance(v, ak.Array) else v.dtype for k, v in arrays.items()}
    with uproot.recreate(path) as f:
        f.mktree(tree, types).extend(arrays)
    return path


def features(path, mapping, out):
    prov = ingest([path], resolve_mapping(mapping), out, chunk_size=16)
    data, _ = read_table(out)
    return data, prov


def test_cartesian_jets_ingest_to_the_same_features_as_polar_ones(tmp_path):
    flat, counts, label = polar_events()
    polar_file = write_jets_root(
        tmp_path / "polar.root",
        {k: ak.unflatten(v, counts).tolist() for k, v in flat.items()},
        label=label,
    )
    # The same jets as Px, Py, Pz, E in MeV: the energy unit applies to the components.
    mev = {k: v * 1000.0 for k, v in cartesian(flat).items()}
    taus = {k: flat[k] for k in ("tau1", "tau2", "tau3")}
    cart_file = write_record_root(
        tmp_path / "cartesian.root", {"Jet": ({**mev, **taus}, counts)}, {"label": label}
    )
    mapping = {
        "kind": "jets",
        "tree": "Events",
        "energy_unit": "MeV",
        "jets": {**CARTESIAN, **TAUS},
        "label": "label",
    }
    ref, ref_prov = features(polar_file, "genhep", tmp_path / "polar.h5")
    got, prov = features(cart_file, mapping, tmp_path / "cartesian.h5")
    assert list(got) == FEATURES + ["label"]
    assert prov["events_kept"] == ref_prov["events_kept"] == int((counts >= 2).sum())
    assert prov["dropped_fewer_than_2_jets"] == int((counts < 2).sum())
    for name in FEATURES:
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-6, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(got["label"], ref["label"])
    assert prov["branch_mapping"]["fields"]["energy"] == ["Jet_E", None]
    # Spot check by hand: event 0's mjj from the four-vector sum, in TeV.
    first = int(np.argmax(counts >= 2))
    start = counts[:first].sum()
    lead = start + np.argsort(-flat["pt"][start : start + counts[first]])[:2]
    e, px, py, pz = (cartesian(flat)[k][lead].sum() / 1000.0 for k in ("E", "Px", "Py", "Pz"))
    assert got["mjj"][0] == pytest.approx(np.sqrt(e**2 - px**2 - py**2 - pz**2), rel=1e-9)


def test_conversion_recovers_pt_eta_phi_mass_and_clips_negative_mass_squared():
    flat = {
        "pt": np.array([1000.0, 800.0, 500.0]),
        "eta": np.array([0.3, -1.2, 2.0]),
        "phi": np.array([3.0, -2.5, 0.1]),
        "mass": np.array([150.0, 0.0, 40.0]),
    }
    comps = cartesian(flat)
    # Rounding can leave E a hair below |p| for a massless jet: m² < 0, vector's mass < 0.
    comps["E"][1] *= 1 - 1e-9
    assert comps["E"][1] ** 2 - comps["Px"][1] ** 2 - comps["Py"][1] ** 2 - comps["Pz"][1] ** 2 < 0
    arrays = {f"Jet_{k}": ak.Array([v.tolist()]) for k, v in comps.items()}
    mapping = resolve_mapping({"kind": "jets", "tree": "t", "jets": CARTESIAN})
    assert mapping.cartesian
    jets = jets_from_chunk(arrays, mapping)
    assert ak.fields(jets) == ["pt", "eta", "phi", "mass"]
    for key in ("pt", "mass"):  # GeV (the default energy_unit) to TeV
        np.testing.assert_allclose(ak.to_numpy(jets[key][0]), flat[key] / 1000.0, atol=1e-12)
    for key in ("eta", "phi"):
        np.testing.assert_allclose(ak.to_numpy(jets[key][0]), flat[key], rtol=1e-9)
    assert jets.mass[0, 1] == 0.0  # clipped, not NaN and not negative


def test_mixed_or_incomplete_cartesian_mappings_name_the_keys():
    def jets(*keys):
        return {"kind": "jets", "tree": "t", "jets": {k: f"b_{k}" for k in keys}}

    where = "config key files.mapping.jets"
    with pytest.raises(GenhepError) as err:
        resolve_mapping(jets("pt", "eta", "phi", "mass", "px"))
    assert str(err.value) == (
        f"{where}: give the jet four-momentum either as pt, eta, phi, mass or as "
        "px, py, pz, energy, not a mix (got pt, eta, phi, mass, px)"
    )
    with pytest.raises(GenhepError, match=r"not a mix \(got mass, px, py, pz\)"):
        resolve_mapping(jets("px", "py", "pz", "mass"))
    with pytest.raises(GenhepError) as err:
        resolve_mapping(jets("px", "py", "pz", "tau1", "tau2", "tau3"))
    assert str(err.value) == (
        f"{where}: missing ['energy'] (Cartesian jets need all of px, py, pz, energy)"
    )
    with pytest.raises(GenhepError) as err:
        resolve_mapping(jets("px", "py", "pz", "energy", "tau1"))
    assert str(err.value) == (
        f"{where}: missing ['tau2', 'tau3'] (Cartesian jets need all of px, py, pz, energy)"
    )
    with pytest.raises(GenhepError) as err:
        resolve_mapping(jets("tau1", "tau2", "tau3"))
    assert str(err.value) == (
        f"{where}: missing ['pt', 'eta', 'phi', 'mass'] (or give px, py, pz, energy instead)"
    )
    with pytest.raises(GenhepError, match=r"unknown key\(s\) \['E'\]"):
        resolve_mapping(jets("px", "py", "pz", "E"))
    # Overriding a (pt, eta, phi, mass) preset with Cartesian components replaces them.
    over = resolve_mapping({"preset": "nanoaod_ak4", "jets": CARTESIAN})
    assert over.cartesian and over.tree == "Events"
    assert {k: f.branch for k, f in over.fields.items()} == CARTESIAN


def test_ingest_script_reports_a_mixed_mapping_in_one_line(small_event_file, tmp_path):
    out = tmp_path / "o.h5"
    mapping = {"kind": "jets", "tree": "events", "jets": {"px": "jet_pt", "pt": "jet_pt"}}
    result = run_script(
        "ingest",
        *("--params", json.dumps({"mapping": mapping}), "--roots", small_event_file),
        *("--features", out, "--log", tmp_path / "o.log"),
    )
    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("genhep ingest: error:")
    assert "files.mapping.jets: give the jet four-momentum either as pt, eta, phi, mass" in message
    assert "not a mix (got pt, px)" in message
    assert not out.exists()


def test_jet_collections_are_recognised_by_prefix_case_insensitively():
    assert jet_collections(["jet_pt", "jet_eta", "jet_phi", "jet_mass"]) == [
        {"pt": "jet_pt", "eta": "jet_eta", "phi": "jet_phi", "mass": "jet_mass"}
    ]
    assert jet_collections(["FatJet.PT", "FatJet.Eta", "FatJet.Phi", "FatJet.Mass"]) == [
        {"pt": "FatJet.PT", "eta": "FatJet.Eta", "phi": "FatJet.Phi", "mass": "FatJet.Mass"}
    ]
    names = [*CARTESIAN.values(), "Jet_Px_raw", "Jet_rawPt"]
    names += [f"FatJet_{k}" for k in ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")]
    names += ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "AK4Jet_px", "AK4Jet_py"]
    # τ first; not muons; not the incomplete AK4Jet_; Cartesian when that is all there is.
    assert jet_collections(names) == [
        {k: f"FatJet_{k}" for k in ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")},
        CARTESIAN,
    ]
    # Both spellings of a key: the preferred one (mass over m, e over energy).
    assert jet_collections(["j_jet_pt", "j_jet_eta", "j_jet_phi", "j_jet_m", "j_jet_mass"]) == [
        {"pt": "j_jet_pt", "eta": "j_jet_eta", "phi": "j_jet_phi", "mass": "j_jet_mass"}
    ]


def test_genhep_inspect_suggests_a_cartesian_jets_mapping_that_ingests(tmp_path, capsys):
    flat, counts, label = polar_events(n=30, seed=5)
    taus = {k: flat[k] for k in ("tau1", "tau2", "tau3")}
    n = len(counts)
    met = np.linspace(10.0, 300.0, n)
    path = write_record_root(
        tmp_path / "ntuple.root",
        {
            "Jet": ({**cartesian(flat), **taus}, counts),
            "Muon": ({k: flat[k] for k in ("pt", "eta", "phi", "mass")}, counts),
        },
        {"MET": met, "label": label},
    )
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "Jet_Px: double[]" in out and "MET: double" in out
    suggested = yaml.safe_load(out.split(HEADER)[1])
    assert suggested == {
        "files": {
            "paths": [str(path)],
            "mapping": {
                "kind": "jets",
                "tree": "Events",
                "energy_unit": "GeV",
                "jets": {**CARTESIAN, **TAUS},
                "label": "label",
            },
        }
    }
    # The alternative, commented out: a flat mapping of the flat branches only (the
    # counters uproot wrote and MET), never the jagged ones.
    commented = [line[2:] for line in out.splitlines() if line.startswith("#   ")]
    alternative = yaml.safe_load("\n".join(commented))["mapping"]
    assert alternative == {
        "kind": "flat",
        "tree": "Events",
        "columns": {n: {"branch": n, "unit": ""} for n in ("MET", "nJet", "nMuon")},
        "label": "label",
    }
    # Both work as pasted: the jets mapping gives the features of the same events written
    # as pt, eta, phi, mass; the flat one reads MET back.
    got, prov = features(path, suggested["files"]["mapping"], tmp_path / "jets.h5")
    polar_file = write_jets_root(
        tmp_path / "polar.root",
        {k: ak.unflatten(v, counts).tolist() for k, v in flat.items()},
        label=label,
    )
    ref, _ = features(polar_file, "genhep", tmp_path / "polar.h5")
    assert prov["events_kept"] == int((counts >= 2).sum()) > 0
    for name in FEATURES:
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-6, atol=1e-12, err_msg=name)
    flat_data, _ = features(path, alternative, tmp_path / "flat.h5")
    np.testing.assert_allclose(flat_data["MET"], met)
    np.testing.assert_array_equal(flat_data["nJet"], counts)
    np.testing.assert_array_equal(flat_data["label"], label)


def test_suggestions_without_a_jet_collection_are_flat_and_skip_jagged_branches():
    layouts = {"mjj": "flat", "Muon_pt": "jagged", "Muon_eta": "jagged", "HLT_x": "flag"}
    layouts.update({"Muon_phi": "jagged", "Muon_mass": "jagged", "Type": None})
    assert suggest_mappings(layouts, "t") == [
        {
            "kind": "flat",
            "tree": "t",
            "columns": {"mjj": {"branch": "mjj", "unit": ""}},
            "label": None,
        }
    ]
    assert suggest_mappings({"Jet_pt": "jagged", "s": None}, "t") == []
