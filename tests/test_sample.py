"""Sharded sampling: physical units through the inverse transform, contexts, gather."""

import h5py
import numpy as np
import pytest
import torch

from conftest import feature_table, run_script
from genhep.models import build_model, load_ensemble, save_model
from genhep.preprocess import load_split, preprocess
from genhep.sample import gather_shards, reference_and_pool, sample_shard
from genhep.training import seed_everything


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A preprocessed feature table and an (untrained, fixed-seed) conditional MAF."""
    d = tmp_path_factory.mktemp("sample")
    feature_table(d / "events.h5", n=5000)
    splits = {s: d / f"{s}.h5" for s in ("train", "val", "test")}
    preprocess(d / "events.h5", splits, d / "transform.json", seed=1)
    seed_everything(0)
    model = build_model("maf", 4, 1, {"hidden": 16, "transforms": 2})
    save_model(model, d / "model.pt")
    return d


def read(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][...] for k in f}, dict(f.attrs)


def test_samples_are_the_model_output_mapped_back_to_physical_units(prepared, tmp_path):
    d = prepared
    info = sample_shard(
        d / "model.pt", d / "test.h5", d / "events.h5", tmp_path / "s.h5", shard=0,
        events_per_shard=1200, batch_size=500, seed=4,
    )  # fmt: skip
    table, attrs = read(tmp_path / "s.h5")
    assert info["events"] == 1200 and attrs["events"] == 1200
    split = load_split(d / "test.h5")
    pre = split["preprocessor"]
    names = list(pre.features.names)
    assert list(attrs["columns"]) == names + ["mjj"]
    assert table["mjj"].dtype == np.float64

    # The contexts: the first len(pool) events use every pool context exactly once.
    _, pool_rows = reference_and_pool(len(split["context"]))
    pool_mjj = pre.context.inverse(split["context"][pool_rows])[:, 0]
    n_pool = len(pool_mjj)
    np.testing.assert_allclose(np.sort(table["mjj"][:n_pool]), np.sort(pool_mjj), rtol=1e-12)

    # Forward-transforming the physical samples gives back the model's own output.
    model = load_ensemble(d / "model.pt")
    perm = torch.as_tensor(np.random.default_rng(4).permutation(n_pool))
    c = torch.as_tensor(split["context"][pool_rows], dtype=torch.float32)
    torch.manual_seed(4 * 100_003 + 0)
    batches = [(0, 500), (500, 500), (1000, 200)]  # as sample_shard batches 1200 events
    expected = [model.sample(n, c[perm[torch.arange(b, b + n) % n_pool]]) for b, n in batches]
    expected = torch.cat(expected).double().numpy()
    x_phys = np.column_stack([table[n] for n in names])
    np.testing.assert_allclose(pre.features.forward(x_phys), expected, rtol=1e-5, atol=1e-5)
    # ... and every sample lies inside the min-max range the logit maps onto.
    lo = np.array(pre.features.steps[0].lo)
    hi = np.array(pre.features.steps[0].hi)
    assert (x_phys >= lo).all() and (x_phys <= hi).all()


def test_shards_are_reproducible_distinct_and_gathered_in_order(prepared, tmp_path):
    d = prepared
    paths = []
    for shard in (0, 1):
        paths.append(tmp_path / f"shard{shard}.h5")
        sample_shard(
            d / "model.pt", d / "test.h5", d / "events.h5", paths[-1], shard=shard,
            events_per_shard=700, batch_size=300, seed=2,
        )  # fmt: skip
    again = tmp_path / "again.h5"
    sample_shard(
        d / "model.pt", d / "test.h5", d / "events.h5", again, shard=1,
        events_per_shard=700, batch_size=300, seed=2,
    )  # fmt: skip
    s0, s1, s1_again = read(paths[0])[0], read(paths[1])[0], read(again)[0]
    assert all(np.array_equal(s1[k], s1_again[k]) for k in s1)  # same seed, same events
    assert not np.allclose(s0["mj_min"], s1["mj_min"])  # each shard its own stream
    # Shard 1 continues the context cycle where shard 0 stopped.
    assert not np.array_equal(s0["mjj"], s1["mjj"])

    info = gather_shards(paths, tmp_path / "all.h5", chunk=256)
    gathered, attrs = read(tmp_path / "all.h5")
    assert info["events"] == attrs["events"] == 1400 and attrs["shards"] == 2
    for k in s0:
        np.testing.assert_array_equal(gathered[k], np.concatenate([s0[k], s1[k]]))
    assert attrs["events_per_second"] > 0


def test_sample_script_error_names_the_file_and_leaves_nothing(prepared, tmp_path):
    result = run_script(
        "sample", "--model", prepared / "model.pt", "--test", tmp_path / "missing.h5",
        "--features", prepared / "events.h5", "--output", tmp_path / "out.h5",
        "--shard", 0, "--events", 10,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("genhep sample: error: ")
    assert "missing.h5" in result.stderr
    assert not (tmp_path / "out.h5").exists()
