"""The LHC Olympics 2020 features file (pandas HDF5, 'fixed' format) as an input."""

import json

import h5py
import numpy as np
import pytest

from conftest import run_script
from genhep.errors import GenhepError
from genhep.ingest import Selection, ingest
from genhep.io.hdf5 import read_table
from genhep.io.lhco import LHCO_COLUMNS, iterate_table
from genhep.io.mappings import resolve_mapping

JET = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")


def write_pandas_fixed(path, columns, key="df", blocks=None):
    """Write ``{name: values}`` exactly as pandas ``to_hdf(key, format='fixed')`` lays a
    DataFrame out: axis0 (names, bytes), axis1 (int64 index), and per block its items and
    its values stored one row per event; ``blocks`` groups the names (default: one block)."""
    names = list(columns)
    blocks = blocks or [names]
    n = len(next(iter(columns.values())))
    with h5py.File(path, "w") as f:
        g = f.create_group(key)
        g.attrs.update(
            {
                "pandas_type": b"frame",
                "pandas_version": b"0.15.2",
                "ndim": 2,
                "nblocks": len(blocks),
            }
        )
        g.create_dataset("axis0", data=np.array(names, dtype="S"))
        g.create_dataset("axis1", data=np.arange(n, dtype=np.int64))
        for i, items in enumerate(blocks):
            g.create_dataset(f"block{i}_items", data=np.array(items, dtype="S"))
            values = np.column_stack([columns[c] for c in items])
            g.create_dataset(f"block{i}_values", data=values)
            g[f"block{i}_values"].attrs["transposed"] = 1
    return path


def lhco_events(n=500, seed=0, padded=()):
    """Two jets per event in the LHCO columns (GeV), with known four-momenta; events in
    ``padded`` have no second jet (an all-zero slot). A few jets have tau1 = tau2 = 0."""
    rng = np.random.default_rng(seed)
    cols = {}
    for j in (1, 2):
        pt = rng.uniform(1200, 2000, n)
        eta = rng.uniform(-2.0, 2.0, n)
        phi = rng.uniform(-np.pi, np.pi, n) + (np.pi if j == 2 else 0.0)
        mass = rng.uniform(20, 600, n)
        tau1 = rng.uniform(0.1, 0.8, n)
        tau2 = tau1 * rng.uniform(0.1, 0.95, n)
        tau1[j::37] = 0.0  # a jet with a single constituent
        tau2[j::37] = 0.0
        cols.update(
            {
                f"pxj{j}": pt * np.cos(phi),
                f"pyj{j}": pt * np.sin(phi),
                f"pzj{j}": pt * np.sinh(eta),
                f"mj{j}": mass,
                f"tau1j{j}": tau1,
                f"tau2j{j}": tau2,
                f"tau3j{j}": tau2 * rng.uniform(0.3, 0.9, n),
            }
        )
    for q in JET:
        cols[f"{q}j2"][list(padded)] = 0.0
    cols["label"] = (rng.random(n) < 0.3).astype(np.float64)  # pandas keeps it as a float
    return {c: cols[c] for c in LHCO_COLUMNS}


def expected_features(cols):
    """The features, computed here from the columns directly: TeV, E = sqrt(p² + m²)."""
    p = {j: np.stack([cols[f"{q}j{j}"] for q in ("px", "py", "pz")]) for j in (1, 2)}
    e = {j: np.sqrt((p[j] ** 2).sum(0) + cols[f"mj{j}"] ** 2) for j in (1, 2)}
    mjj = np.sqrt((e[1] + e[2]) ** 2 - ((p[1] + p[2]) ** 2).sum(0)) / 1000
    m1, m2 = cols["mj1"], cols["mj2"]

    def tau21(j):
        t1, t2 = cols[f"tau1j{j}"], cols[f"tau2j{j}"]
        return np.where(t1 > 0, t2 / np.where(t1 > 0, t1, 1), 0.0)

    first_lighter = m1 <= m2
    return {
        "mjj": mjj,
        "mj_min": np.minimum(m1, m2) / 1000,
        "delta_mj": np.abs(m1 - m2) / 1000,
        "tau21_min": np.where(first_lighter, tau21(1), tau21(2)),
        "tau21_max": np.where(first_lighter, tau21(2), tau21(1)),
        "label": cols["label"].astype(np.int32),
    }


BLOCKS = {
    "one block": None,
    "three blocks": [
        [f"{q}j1" for q in JET],
        [f"{q}j2" for q in JET],
        ["label"],
    ],
}


@pytest.mark.parametrize("layout", list(BLOCKS))
def test_lhco_features_match_an_independent_computation(tmp_path, layout):
    padded = (3, 77, 401)
    cols = lhco_events(500, padded=padded)
    if layout == "three blocks":
        cols["label"] = cols["label"].astype(np.int64)  # pandas: an int column, its own block
    path = write_pandas_fixed(tmp_path / "rnd.features.h5", cols, blocks=BLOCKS[layout])
    out = tmp_path / "events.h5"
    prov = ingest([path], resolve_mapping("lhco_rnd"), out, chunk_size=64)
    data, attrs = read_table(out)
    assert list(data) == ["mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max", "label"]
    keep = np.ones(500, bool)
    keep[list(padded)] = False  # no second jet: dropped, and counted as such
    assert prov["dropped_fewer_than_2_jets"] == 3 and attrs["events_kept"] == 497
    expected = expected_features({c: v[keep] for c, v in cols.items()})
    assert (expected["tau21_min"] == 0).any() and (expected["tau21_max"] == 0).any()
    for name, values in expected.items():
        np.testing.assert_allclose(data[name], values, rtol=1e-6, atol=0, err_msg=name)
    np.testing.assert_array_equal(data["label"], expected["label"])
    assert data["label"].dtype == np.int32 and 100 < data["label"].sum() < 200
    assert 2.0 < np.median(data["mjj"]) < 6.0  # TeV
    with h5py.File(out) as f:
        assert f["mjj"].attrs["unit"] == "TeV" and f["tau21_min"].attrs["unit"] == ""
    assert attrs["tree"] == "df" and attrs["branch_mapping"]["format"] == "lhco_hdf5"
    assert attrs["source_files"] == [str(path.resolve())]


def test_lhco_table_has_the_same_attrs_as_a_root_ingestion(small_event_file, tmp_path):
    path = write_pandas_fixed(tmp_path / "rnd.h5", lhco_events(50))
    lhco = ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "a.h5")
    root = ingest([small_event_file], resolve_mapping("genhep"), tmp_path / "b.h5")
    assert list(lhco) == list(root)
    assert lhco["columns"] == root["columns"]
    assert lhco["selection"] == root["selection"]


def test_selection_and_chunks_are_those_of_root_ingestion(tmp_path):
    cols = lhco_events(500, seed=3)
    path = write_pandas_fixed(tmp_path / "rnd.h5", cols)
    mjj = expected_features(cols)["mjj"]
    window = Selection(mjj_min=3.0, mjj_max=4.0)
    prov = ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "w.h5", window, 100)
    assert prov["events_kept"] == int(((mjj >= 3.0) & (mjj <= 4.0)).sum()) > 0
    assert prov["dropped_mjj_window"] == 500 - prov["events_kept"]
    # Read in slices of rows: never more than chunk_size at once.
    sizes = [len(c["mj1"]) for c in iterate_table(path, ["mj1", "label"], 128)]
    assert sizes == [128, 128, 128, 116]
    one, _ = read_table(tmp_path / "w.h5")
    ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "w7.h5", window, 7)
    seven, _ = read_table(tmp_path / "w7.h5")
    for name in one:
        np.testing.assert_array_equal(one[name], seven[name])


def test_an_unlabelled_lhco_file_through_label_none(tmp_path):
    """Black-box files have no label column: the mapping's label set to null reads them."""
    cols = lhco_events(40)
    del cols["label"]
    path = write_pandas_fixed(tmp_path / "bb.h5", cols)
    with pytest.raises(GenhepError, match=r"no column\(s\) \['label'\]"):
        ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "o.h5")
    prov = ingest([path], resolve_mapping({"preset": "lhco_rnd", "label": None}), tmp_path / "o.h5")
    assert "label" not in prov["columns"] and prov["events_kept"] == 40


def test_missing_columns_are_named(tmp_path):
    cols = lhco_events(20)
    del cols["mj2"], cols["tau3j2"]
    path = write_pandas_fixed(tmp_path / "short.h5", cols)
    with pytest.raises(GenhepError) as err:
        ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "o.h5")
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert "no column(s) ['mj2', 'tau3j2']" in message
    assert "expected the LHC Olympics features columns pxj1, pyj1" in message
    assert "found pxj1, pyj1, pzj1, mj1" in message
    assert not (tmp_path / "o.h5").exists()


def test_a_non_pandas_hdf5_file_is_refused_clearly(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["events"] = np.zeros((10, 15))
    with pytest.raises(GenhepError) as err:
        ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "o.h5")
    message = str(err.value)
    assert message.startswith(f"{path}: not a pandas 'fixed' table")
    assert "expected a group 'df'" in message and "axis0, axis1, block0_items" in message
    assert "found top-level keys ['events']" in message


def test_a_broken_layout_names_what_is_missing(tmp_path):
    path = write_pandas_fixed(tmp_path / "x.h5", lhco_events(10))
    with h5py.File(path, "a") as f:
        del f["df/block0_values"]
    with pytest.raises(GenhepError, match=r"group 'df' lacks block0_values \(expected axis0"):
        ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "o.h5")
    path = write_pandas_fixed(tmp_path / "y.h5", lhco_events(10))
    with h5py.File(path, "a") as f:
        f["df"].attrs["pandas_type"] = b"frame_table"
    with pytest.raises(GenhepError, match="'table' format; genhep reads the 'fixed' format"):
        ingest([path], resolve_mapping("lhco_rnd"), tmp_path / "o.h5")


def test_cli_lhco_errors_are_one_line_and_leave_nothing(small_event_file, tmp_path):
    out = tmp_path / "o.h5"
    params = json.dumps({"mapping": "lhco_rnd"})
    for bad, fragment in [
        (small_event_file, "not an HDF5 file"),
        (tmp_path / "nope.h5", "does not exist"),
    ]:
        result = run_script("ingest", "--params", params, "--roots", bad, "--features", out)
        assert result.returncode == 1, result.stderr
        line = result.stderr.strip()
        assert line.count("\n") == 0 and line.startswith("genhep ingest: error:")
        assert f"{bad}: " in line and fragment in line
        assert not out.exists()
    good = write_pandas_fixed(tmp_path / "rnd.h5", lhco_events(30))
    result = run_script("ingest", "--params", params, "--roots", good, "--features", out)
    assert result.returncode == 0, result.stderr
    assert read_table(out)[1]["events_kept"] == 30
