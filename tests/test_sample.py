"""Sharded sampling: physical units through the inverse transform, contexts, gather."""

import json

import h5py
import numpy as np
import pytest
import torch

from conftest import feature_table, run_script, run_stage
from genhep.contracts import load_split, reference_and_pool
from genhep.models import build_model, load_ensemble, save_model
from genhep.preprocess import preprocess
from genhep.sample import STAGE as SAMPLE
from genhep.sample import gather_shards, sample_shard
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


class _Member:
    family = "echo"


class ContextEcho:
    """Stands in for the trained model: each event it "samples" is a fixed function of the
    event's own context, so the stage's output can be checked event by event, whatever
    seeds and batches the stage uses."""

    members = [_Member()]

    @staticmethod
    def output(c):
        return torch.cat([0.3 * (j + 1) * c + 0.2 * j - 0.3 for j in range(4)], dim=1)

    def sample(self, n, c):
        assert len(c) == n
        return self.output(c)


def test_samples_are_the_model_output_mapped_back_to_physical_units(
    prepared, tmp_path, monkeypatch
):
    d = prepared
    monkeypatch.setattr("genhep.models.load_ensemble", lambda path, device: ContextEcho())
    sample_shard(
        d / "model.pt", d / "test.h5", d / "events.h5", tmp_path / "s.h5", shard=1,
        events_per_shard=1200, batch_size=500, seed=4,
    )  # fmt: skip
    table, _ = read(tmp_path / "s.h5")
    pre = load_split(d / "test.h5")["preprocessor"]
    # Each event's features, forward-transformed, are the model's output for the context
    # written beside them: in physical units, and paired with the right context.
    c = pre.context.forward(table["mjj"][:, None])
    x_phys = np.column_stack([table[n] for n in pre.features.names])
    expected = ContextEcho.output(torch.as_tensor(c, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(pre.features.forward(x_phys), expected, rtol=1e-5, atol=1e-5)


def test_sample_shard_writes_every_pool_context_and_in_range_samples(prepared, tmp_path):
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

    # The samples are the flow's: mapped back into the preprocessed space, the flow takes
    # them to its base distribution, N(0, 1) per dimension (1200 events: the standard
    # errors are 0.03 on the mean and 0.02 on the width).
    x_phys = np.column_stack([table[n] for n in names])
    x = torch.as_tensor(pre.features.forward(x_phys), dtype=torch.float32)
    c = torch.as_tensor(pre.context.forward(table["mjj"][:, None]), dtype=torch.float32)
    flow = load_ensemble(d / "model.pt").members[0]
    with torch.no_grad():
        u = flow.distribution(c).transform(x)
    assert u.mean(0).abs().max() < 0.15, u.mean(0)
    assert (u.std(0) - 1).abs().max() < 0.1, u.std(0)
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
    # Each shard its own stream: no event of one is an event of the other.
    features = [k for k in s0 if k != "mjj"]
    events0 = {tuple(row) for row in np.column_stack([s0[k] for k in features])}
    events1 = {tuple(row) for row in np.column_stack([s1[k] for k in features])}
    assert len(events0) == 700 and len(events1) == 700 and not events0 & events1
    # Shard 1 continues the context cycle where shard 0 stopped: the contexts are those of
    # the same 1400 events drawn as one shard, in other batches.
    whole = tmp_path / "whole.h5"
    sample_shard(
        d / "model.pt", d / "test.h5", d / "events.h5", whole, shard=0,
        events_per_shard=1400, batch_size=512, seed=2,
    )  # fmt: skip
    np.testing.assert_array_equal(read(whole)[0]["mjj"], np.concatenate([s0["mjj"], s1["mjj"]]))

    info = gather_shards(paths, tmp_path / "all.h5", chunk=256)
    gathered, attrs = read(tmp_path / "all.h5")
    assert info["events"] == attrs["events"] == 1400 and attrs["shards"] == 2
    for k in s0:
        np.testing.assert_array_equal(gathered[k], np.concatenate([s0[k], s1[k]]))
    assert attrs["events_per_second"] > 0
    # The gather stage's script: the same table, from its command line.
    done = run_script("gather_samples", "--shards", *paths, "--samples", tmp_path / "stage.h5")
    assert done.returncode == 0, done.stderr
    staged = read(tmp_path / "stage.h5")[0]
    assert staged.keys() == gathered.keys()
    assert all(np.array_equal(staged[k], gathered[k]) for k in gathered)


@pytest.mark.parametrize(
    ("test", "params", "message"),
    [
        ("missing.h5", {"events_per_shard": 10}, "missing.h5"),  # a missing input, named
        ("test.h5", {"events": 10}, "config key sample.events: unknown setting"),
    ],
)
def test_sample_script_errors_are_one_line_and_leave_nothing(
    prepared, tmp_path, test, params, message
):
    result = run_stage(
        SAMPLE, "--model", prepared / "model.pt", "--test", prepared / test,
        "--features", prepared / "events.h5", "--samples", tmp_path / "out.h5",
        "--params", json.dumps({"shard": 0, **params}),
    )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("genhep sample: error: ") and message in last
    assert not (tmp_path / "out.h5").exists()
