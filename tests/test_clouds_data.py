"""Jets as particle clouds: JetNet's HDF5 and per-jet ROOT files read into Clouds, the
errors for a wrong layout, the cloud store's exact round trip, and the constituents'
four-momentum sum. Every input file is written here, in exactly the layout it stands for."""

import math

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from genhep.clouds import Clouds, concat, wrap_phi
from genhep.clouds.constituents import constituent_sum, sum_mismatch
from genhep.clouds.readers import iter_jetnet, read_jetnet
from genhep.clouds.root import read_root_clouds, resolve_cloud_mapping
from genhep.contracts.clouds import cloud_store_attrs, read_clouds, write_clouds
from genhep.errors import GenhepError

N = 6


def jetnet_arrays(n_jets=7, n=N, seed=0):
    """JetNet's layout: particle_features (jets, N, 4), real particles first by pT_rel,
    zero padding; jet_features (jets, 4) in GeV, num_particles beyond N for the last jet."""
    rng = np.random.default_rng(seed)
    pf = np.zeros((n_jets, n, 4), dtype=np.float32)
    counts = np.array([n, 1, 3, n - 1, 2, n, 4][:n_jets])
    for i, m in enumerate(counts):
        pt = np.sort(rng.uniform(0.01, 1.0, m))[::-1]
        pf[i, :m] = np.column_stack(
            [rng.normal(0, 0.2, m), rng.normal(0, 0.2, m), pt / pt.sum(), np.ones(m)]
        )
    jf = np.column_stack(
        [rng.uniform(900, 1100, n_jets), rng.normal(0, 1, n_jets), rng.uniform(10, 200, n_jets)]
    )
    jf = np.column_stack([jf, counts + (np.arange(n_jets) == n_jets - 1) * 9]).astype(np.float32)
    return pf, jf


def write_h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for name, data in datasets.items():
            f.create_dataset(name, data=data)
    return path


def test_jetnet_read_values_in_tev_with_the_class_from_the_file_name(tmp_path):
    pf, jf = jetnet_arrays()
    path = write_h5(tmp_path / "t.hdf5", particle_features=pf, jet_features=jf)
    clouds = read_jetnet(path)
    assert clouds.particles.dtype == np.float32 and clouds.particles.shape == (7, N, 3)
    np.testing.assert_array_equal(clouds.particles, pf[..., :3])
    np.testing.assert_array_equal(clouds.mask, pf[..., 3] == 1)
    np.testing.assert_allclose(clouds.jets["pt"], jf[:, 0].astype(np.float64) / 1000)
    np.testing.assert_allclose(clouds.jets["mass"], jf[:, 2].astype(np.float64) / 1000)
    np.testing.assert_array_equal(clouds.jets["eta"], jf[:, 1])
    # JetNet's loader counts at most N particles: the last jet's 4 + 9 = 13 becomes 6.
    assert jf[-1, 3] == 13
    np.testing.assert_array_equal(clouds.jets["num_particles"], [6, 1, 3, 5, 2, 6, 6])
    assert clouds.classes[clouds.label[0]] == "t" and set(clouds.label) == {2}
    for name, label in (("g150.hdf5", 0), ("jets.hdf5", None)):
        other = write_h5(tmp_path / name, particle_features=pf, jet_features=jf)
        got = read_jetnet(other).label
        assert (got is None) if label is None else set(got) == {label}
    assert set(read_jetnet(path, jet_class="z").label) == {4}


def test_jetnet_truncation_keeps_the_leading_particles_even_if_unsorted(tmp_path):
    pf, jf = jetnet_arrays()
    shuffled = pf.copy()
    shuffled[0, :N] = pf[0, ::-1]  # jet 0 (all N real) stored softest first
    path = write_h5(tmp_path / "g.hdf5", particle_features=shuffled, jet_features=jf)
    clouds = read_jetnet(path, n_particles=3)
    assert clouds.n_particles == 3
    np.testing.assert_array_equal(clouds.particles, pf[:, :3, :3])
    np.testing.assert_array_equal(clouds.mask.sum(axis=1), [3, 1, 3, 3, 2, 3, 3])
    np.testing.assert_array_equal(clouds.jets["num_particles"], [3, 1, 3, 3, 2, 3, 3])
    assert np.all(clouds.particles[~clouds.mask] == 0)


def test_jetnet_chunked_reading_equals_the_whole_read(tmp_path):
    pf, jf = jetnet_arrays()
    path = write_h5(tmp_path / "q.hdf5", particle_features=pf, jet_features=jf)
    chunks = list(iter_jetnet(path, n_particles=4, chunk_size=2))
    assert [len(c) for c in chunks] == [2, 2, 2, 1]
    whole, joined = read_jetnet(path, n_particles=4), concat(chunks)
    np.testing.assert_array_equal(joined.particles, whole.particles)
    np.testing.assert_array_equal(joined.mask, whole.mask)
    np.testing.assert_array_equal(joined.label, whole.label)
    for k in whole.jets:
        np.testing.assert_array_equal(joined.jets[k], whole.jets[k])


def _bad_jetnet(kind, pf, jf):
    if kind == "three features":
        return {"particle_features": pf[..., :3], "jet_features": jf}
    if kind == "no jet features":
        return {"particle_features": pf}
    if kind == "jet count":
        return {"particle_features": pf, "jet_features": jf[:-1]}
    if kind == "jet features shape":
        return {"particle_features": pf, "jet_features": jf[:, :3]}
    bad = pf.copy()
    if kind == "mask value":
        bad[2, 1, 3] = 0.5
    else:  # "mask not a prefix": jet 1 has one particle; a real one after its padding
        bad[1, 3] = [0.1, 0.1, 0.01, 1.0]
    return {"particle_features": bad, "jet_features": jf}


@pytest.mark.parametrize(
    "kind, expected, found",
    [
        (
            "three features",
            "expected (jets, N, 4): etarel, phirel, ptrel, mask",
            "particle_features has shape (7, 6, 3)",
        ),
        ("no jet features", "jet_features (jets, 4)", "found: ['particle_features']"),
        ("jet count", "expected one row per jet", "holds 7 jets but jet_features 6"),
        (
            "jet features shape",
            "expected (jets, 4): pt, eta, mass, num_particles",
            "jet_features has shape (7, 3)",
        ),
        ("mask value", "expected 1 for a real particle, 0 for padding", "holds 0.5 at jet 2"),
        ("mask not a prefix", "expected real particles first", "jet 1 is not a prefix"),
    ],
)
def test_jetnet_bad_layout_names_file_expected_and_found(tmp_path, kind, expected, found):
    pf, jf = jetnet_arrays()
    path = write_h5(tmp_path / "bad.hdf5", **_bad_jetnet(kind, pf, jf))
    with pytest.raises(GenhepError) as err:
        read_jetnet(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value) and found in str(err.value)


def test_jetnet_not_hdf5_and_too_many_particles(tmp_path):
    text = tmp_path / "g.hdf5"
    text.write_text("etarel,phirel\n")
    with pytest.raises(GenhepError, match="not a readable HDF5 file.*expected JetNet's layout"):
        read_jetnet(text)
    pf, jf = jetnet_arrays()
    path = write_h5(tmp_path / "t.hdf5", particle_features=pf, jet_features=jf)
    with pytest.raises(GenhepError, match="n_particles 30; the file holds 1 to 6"):
        read_jetnet(path, n_particles=30)


# --- ROOT, one entry per jet ---------------------------------------------------------------


def write_tree(path, arrays, tree="jets"):
    """A TTree with the given branches: numpy arrays flat, awkward arrays jagged."""
    types = {k: v.type.content if isinstance(v, ak.Array) else v.dtype for k, v in arrays.items()}
    with uproot.recreate(path) as f:
        f.mktree(tree, types).extend(arrays)
    return path


RELATIVE = {
    "jet_pt": np.array([1000.0, 1200.0]),
    "jet_eta": np.array([0.5, -1.0]),
    "jet_phi": np.array([0.1, 2.0]),
    "jet_mass": np.array([80.0, 170.0]),
    "jet_class": np.array([3, 2], dtype=np.int32),
    # Jet 0: three particles stored unsorted; jet 1: six, two beyond N = 4.
    "part_etarel": ak.Array([[0.1, 0.2, 0.3], [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]]),
    "part_phirel": ak.Array([[-0.1, -0.2, -0.3], [0.5, 0.4, 0.3, 0.2, 0.1, 0.0]]),
    "part_ptrel": ak.Array([[0.2, 0.5, 0.3], [0.3, 0.25, 0.2, 0.15, 0.06, 0.04]]),
}


GENHEP_CONSTITUENTS = {k: f"part_{k}" for k in ("etarel", "phirel", "ptrel")}


def test_root_relative_constituents_sorted_truncated_padded_in_tev(tmp_path):
    path = write_tree(tmp_path / "rel.root", RELATIVE)
    clouds = read_root_clouds(path, "genhep", n_particles=4)
    np.testing.assert_allclose(
        clouds.particles[0],
        [[0.2, -0.2, 0.5], [0.3, -0.3, 0.3], [0.1, -0.1, 0.2], [0, 0, 0]],
        rtol=1e-6,
    )
    np.testing.assert_allclose(clouds.particles[1, :, 2], [0.3, 0.25, 0.2, 0.15], rtol=1e-6)
    np.testing.assert_array_equal(clouds.mask, [[1, 1, 1, 0], [1, 1, 1, 1]])
    np.testing.assert_allclose(clouds.jets["pt"], [1.0, 1.2])
    np.testing.assert_allclose(clouds.jets["mass"], [0.08, 0.17])
    np.testing.assert_array_equal(clouds.jets["num_particles"], [3, 4])
    assert [clouds.classes[i] for i in clouds.label] == ["w", "t"]


def test_root_absolute_constituents_wrap_delta_phi(tmp_path):
    arrays = {
        "pt": np.array([500.0]),
        "eta": np.array([0.3]),
        "phi": np.array([0.1]),
        "m": np.array([50.0]),
        "c_pt": ak.Array([[100.0, 400.0]]),
        "c_eta": ak.Array([[0.5, 0.2]]),
        "c_phi": ak.Array([[0.1 + 3.2, 0.0]]),  # φ_jet + 3.2 rad: Δφ = 3.2 − 2π
    }
    path = write_tree(tmp_path / "abs.root", arrays, tree="t")
    mapping = {
        "tree": "t",
        "energy_unit": "TeV",
        "jet": {"pt": "pt", "eta": "eta", "phi": "phi", "mass": "m"},
        "constituents": {"pt": "c_pt", "eta": "c_eta", "phi": "c_phi"},
    }
    clouds = read_root_clouds(path, mapping, n_particles=3)
    np.testing.assert_allclose(
        clouds.particles[0],
        [[-0.1, -0.1, 0.8], [0.2, 3.2 - 2 * math.pi, 0.2], [0, 0, 0]],
        rtol=1e-6,
        atol=1e-6,
    )
    assert clouds.label is None and clouds.jets["pt"][0] == 500.0
    assert wrap_phi(np.array([math.pi]))[0] == math.pi  # (−π, π]: π stays
    assert wrap_phi(np.array([-math.pi]))[0] == math.pi


def test_root_jet_rebuilt_from_absolute_constituents_within_float_precision(tmp_path):
    """The reader's Δη, Δφ, pT_rel and GeV→TeV agree with the jet's four-momentum."""
    rng = np.random.default_rng(3)
    counts = [5, 8, 3]
    pt, eta = (ak.unflatten(rng.uniform(*r, sum(counts)), counts) for r in ((5, 300), (-1, 1)))
    phi = ak.unflatten(rng.uniform(2.9, 3.6, sum(counts)), counts)  # across φ = π
    cloud = _dense(eta, phi, pt)  # absolute (η, φ, pT) = a cloud around η = φ = 0, pT = 1
    jet = constituent_sum(cloud, cloud[..., 2] > 0, np.ones(3), np.zeros(3))
    arrays = {
        "jet_pt": jet["pt"],
        "jet_eta": jet["eta"],
        "jet_phi": jet["phi"],
        "jet_mass": jet["mass"],
        "c_pt": pt,
        "c_eta": eta,
        "c_phi": phi,
    }
    path = write_tree(tmp_path / "sum.root", arrays)
    mapping = {
        "tree": "jets",
        "jet": {k: f"jet_{k}" for k in ("pt", "eta", "phi", "mass")},
        "constituents": {"pt": "c_pt", "eta": "c_eta", "phi": "c_phi"},
    }
    clouds = read_root_clouds(path, mapping, n_particles=10)
    off = sum_mismatch(clouds.particles, clouds.mask, clouds.jets)
    assert np.abs(off["pt"]).max() < 1e-5 and np.abs(off["mass"]).max() < 1e-4
    assert np.abs(off["eta"]).max() < 1e-5 and np.abs(off["phi"]).max() < 1e-5
    np.testing.assert_allclose(clouds.jets["pt"], jet["pt"] / 1000)


def _dense(eta, phi, pt):
    """(jets, 8, 3) absolute (η, φ, pT) as a cloud with the jet at η = φ = 0, pT = 1."""
    padded = [ak.to_numpy(ak.fill_none(ak.pad_none(x, 8, clip=True), 0.0)) for x in (eta, phi, pt)]
    return np.stack(padded, axis=-1)


@pytest.mark.parametrize(
    "change, expected, found",
    [
        (
            {
                "constituents": {
                    "etarel": "part_eta",
                    "phirel": "part_phirel",
                    "ptrel": "part_ptrel",
                }
            },
            "no branch 'part_eta' (mapping key constituents.etarel)",
            "Branches in this TTree: part_etarel",
        ),
        (
            {"jet": {"pt": "part_ptrel", "eta": "jet_eta", "mass": "jet_mass"}},
            "mapping key jet.pt expects one number per entry (one TTree entry per jet)",
            "branch 'part_ptrel' is jagged (var * float64)",
        ),
        (
            {"constituents": dict(GENHEP_CONSTITUENTS, etarel="jet_eta")},
            "expects a jagged branch of numbers, one per constituent",
            "branch 'jet_eta' is one float64 per event",
        ),
    ],
)
def test_root_bad_branch_names_file_expected_and_found(tmp_path, change, expected, found):
    path = write_tree(tmp_path / "rel.root", RELATIVE)
    mapping = {**resolve_cloud_mapping("genhep").describe(), **change}
    with pytest.raises(GenhepError) as err:
        read_root_clouds(path, mapping)
    assert str(path) in str(err.value)
    assert expected in str(err.value) and found in str(err.value)


def test_root_unequal_constituent_counts_and_bad_mappings(tmp_path):
    arrays = dict(RELATIVE, part_phirel=ak.Array([[0.1, 0.2], [0.1] * 6]))
    path = write_tree(tmp_path / "uneven.root", arrays)
    with pytest.raises(GenhepError, match="hold different numbers of constituents for jet 0"):
        read_root_clouds(path, "genhep")
    base = {"tree": "jets", "jet": {"pt": "a", "eta": "b", "mass": "c"}}
    with pytest.raises(GenhepError, match=r"mapping.jet: missing \['phi'\] \(absolute"):
        resolve_cloud_mapping({**base, "constituents": {"pt": "x", "eta": "y", "phi": "z"}})
    with pytest.raises(GenhepError, match="mapping.constituents: give etarel, phirel, ptrel"):
        resolve_cloud_mapping({**base, "constituents": {"pt": "x", "etarel": "y", "phi": "z"}})
    bad_label = dict(RELATIVE, jet_class=np.array([3, 7], dtype=np.int32))
    path = write_tree(tmp_path / "label.root", bad_label)
    with pytest.raises(GenhepError, match="holds 7 at jet 1; expected a class index 0 to 4"):
        read_root_clouds(path, "genhep")


# --- the cloud store -----------------------------------------------------------------------


def test_cloud_store_round_trip_is_exact_and_atomic(tmp_path):
    pf, jf = jetnet_arrays()
    clouds = read_jetnet(write_h5(tmp_path / "w.hdf5", particle_features=pf, jet_features=jf))
    out = tmp_path / "store" / "w.h5"
    write_clouds(out, clouds, {"source": "w.hdf5", "n_source": 7}, written_by="test", chunk_jets=3)
    back = read_clouds(out)
    for name in ("particles", "mask", "label"):
        got, want = getattr(back, name), getattr(clouds, name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert list(back.jets) == list(clouds.jets) and back.classes == clouds.classes
    for k, v in clouds.jets.items():
        assert back.jets[k].dtype == np.float64
        np.testing.assert_array_equal(back.jets[k], v)
    part = read_clouds(out, 2, 5)
    np.testing.assert_array_equal(part.particles, clouds.particles[2:5])
    attrs = cloud_store_attrs(out)
    assert attrs["kind"] == "clouds" and attrs["written_by"] == "test"
    assert attrs["source"] == "w.hdf5" and attrs["n_particles"] == N and attrs["jets"] == 7
    assert attrs["genhep_version"] and attrs["created_utc"].endswith("+00:00")
    with h5py.File(out) as f:
        assert f["particles"].chunks == (3, N, 3) and f["particles"].compression == "gzip"
    assert [p.name for p in out.parent.iterdir()] == ["w.h5"]  # no temporary left
    unlabelled = Clouds(clouds.particles, clouds.mask, dict(clouds.jets))
    write_clouds(out, unlabelled)
    assert read_clouds(out).label is None


def test_not_a_cloud_store_names_what_is_missing(tmp_path):
    path = write_h5(tmp_path / "split.h5", features=np.zeros((3, 2)), row=np.arange(3))
    with pytest.raises(GenhepError) as err:
        read_clouds(path)
    text = str(err.value)
    assert str(path) in text and "not a cloud store: no particles, mask, jets" in text
    assert "found datasets ['features', 'row']" in text
    with pytest.raises(GenhepError, match="cloud store does not exist"):
        read_clouds(tmp_path / "nothing.h5")
    clouds = Clouds(np.zeros((2, 3, 3), np.float32), np.zeros((2, 3), bool), {})
    write_clouds(tmp_path / "c.h5", clouds, written_by="cloud_data")
    with h5py.File(tmp_path / "c.h5", "a") as f:
        f["mask"][0, 1] = True  # a real particle after padding: not a cloud
    with pytest.raises(GenhepError, match="is damaged .*prefix.*rerun with -R cloud_data"):
        read_clouds(tmp_path / "c.h5")
