"""The stages of the jets-as-particle-clouds branch, on small JetNet-layout files written
here: ingest, preprocess (splits, transforms, multiplicity), sampling, gathering,
evaluation and the leaderboard; and the pieces they stand on (the chunked cloud writer,
the multiplicity sampler)."""

import json

import h5py
import numpy as np
import pytest

from conftest import run_stage
from genhep.clouds import Clouds, ingest, leaderboard, preprocess
from genhep.clouds import gather as gather_stage
from genhep.clouds import sample as sample_stage
from genhep.clouds.multiplicity import MultiplicitySampler
from genhep.contracts import read_split_arrays
from genhep.contracts.clouds import (
    cloud_writer,
    load_cloud_split,
    read_clouds,
    split_particles,
    write_clouds,
)

N = 12


def synthetic_jetnet(path, n_jets=600, n=N, seed=0, width=0.1):
    """A JetNet-layout file of QCD-like jets: harder jets have more particles (Poisson
    in pT), particles spread around the axis with ``width``, pT_rel falling."""
    rng = np.random.default_rng(seed)
    pt = rng.uniform(800, 1600, n_jets)
    counts = np.clip(rng.poisson(3 + 6 * (pt - 800) / 800), 1, n + 5)
    pf = np.zeros((n_jets, n, 4), dtype=np.float32)
    for i, m in enumerate(np.minimum(counts, n)):
        share = np.sort(rng.dirichlet(np.ones(counts[i]) * 0.8))[::-1][:m]
        pf[i, :m, 0] = rng.normal(0, width, m)
        pf[i, :m, 1] = rng.normal(0, width, m)
        pf[i, :m, 2] = share
        pf[i, :m, 3] = 1
    jf = np.column_stack([pt, rng.normal(0, 1, n_jets), rng.uniform(20, 150, n_jets), counts])
    with h5py.File(path, "w") as f:
        f.create_dataset("particle_features", data=pf)
        f.create_dataset("jet_features", data=jf.astype(np.float32))
    return path


def test_multiplicity_follows_the_condition_and_round_trips():
    rng = np.random.default_rng(1)
    pt = rng.uniform(1, 2, 20_000)
    n_real = np.clip(rng.poisson(5 + 10 * (pt - 1)), 1, 30)
    sampler = MultiplicitySampler.fit(n_real, 30, pt, "pt", bins=8)
    again = MultiplicitySampler.from_dict(json.loads(sampler.to_json()))
    soft, hard = np.full(5000, 1.05), np.full(5000, 1.95)
    draws = again.sample(np.concatenate([soft, hard]), np.random.default_rng(2))
    # the bins' means: ~5.5 and ~14.5 expected, the marginal 10
    assert draws[:5000].mean() == pytest.approx(n_real[pt < 1.125].mean(), abs=0.3)
    assert draws[5000:].mean() == pytest.approx(n_real[pt > 1.875].mean(), abs=0.3)
    assert draws.min() >= 1 and draws.max() <= 30
    # the same seed, the same draws
    assert np.array_equal(
        draws, again.sample(np.concatenate([soft, hard]), np.random.default_rng(2))
    )


def test_multiplicity_without_condition_and_with_tied_values():
    n_real = np.array([1, 2, 2, 3, 3, 3])
    marginal = MultiplicitySampler.fit(n_real, 4)
    draws = marginal.sample(None, np.random.default_rng(0), size=60_000)
    assert np.bincount(draws, minlength=5) / 60_000 == pytest.approx(
        [0, 1 / 6, 2 / 6, 3 / 6, 0], abs=0.01
    )
    # every value tied: the quantile bins collapse into one, no empty bin is kept
    tied = MultiplicitySampler.fit(n_real, 4, np.ones(6), "pt", bins=5)
    assert len(tied.counts) == 1 and tied.counts[0].sum() == 6


def _clouds(n_jets, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, N + 1, n_jets)
    mask = np.arange(N)[None, :] < counts[:, None]
    particles = np.where(mask[..., None], rng.uniform(0.01, 0.5, (n_jets, N, 3)), 0)
    particles[..., 2] = np.where(mask, np.sort(particles[..., 2], axis=1)[:, ::-1], 0)
    jets = {"pt": rng.uniform(1, 2, n_jets), "num_particles": counts.astype(float)}
    return Clouds(particles.astype(np.float32), mask, jets, np.zeros(n_jets, np.int64))


def test_chunked_cloud_writer_equals_one_write(tmp_path):
    chunks = [_clouds(5, 0), _clouds(1, 1), _clouds(7, 2)]
    with cloud_writer(tmp_path / "chunked.h5", {"note": "x"}, chunk_jets=4) as writer:
        for chunk in chunks:
            writer.append(chunk)
    whole = Clouds(
        np.concatenate([c.particles for c in chunks]),
        np.concatenate([c.mask for c in chunks]),
        {k: np.concatenate([c.jets[k] for c in chunks]) for k in chunks[0].jets},
        np.concatenate([c.label for c in chunks]),
    )
    write_clouds(tmp_path / "whole.h5", whole)
    a, b = read_clouds(tmp_path / "chunked.h5"), read_clouds(tmp_path / "whole.h5")
    assert np.array_equal(a.particles, b.particles) and np.array_equal(a.mask, b.mask)
    assert all(np.array_equal(a.jets[k], b.jets[k]) for k in a.jets)
    assert np.array_equal(read_clouds(tmp_path / "chunked.h5", 4, 9).particles, b.particles[4:9])


def test_a_cloud_writer_with_no_jets_leaves_nothing(tmp_path):
    with pytest.raises(Exception, match="no jets to write"):
        with cloud_writer(tmp_path / "empty.h5"):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Two JetNet files of gluon jets ingested (the leading N each) and preprocessed."""
    d = tmp_path_factory.mktemp("clouds")
    sources = [
        synthetic_jetnet(d / "g150_a.h5", seed=1, n=N + 4),
        synthetic_jetnet(d / "g150_b.h5", seed=2, n=N + 4),
    ]
    settings = {
        "n_particles": N,
        "max_jets": 1000,
        "chunk_size": 256,
        "jet_class": "g",
        "format": "jetnet",
    }
    out = run_stage(
        ingest.STAGE,
        "--params",
        json.dumps(settings),
        "--sources",
        *sources,
        "--features",
        d / "g.h5",
    )
    assert out.returncode == 0, out.stderr
    files = {name: d / f"{name}.h5" for name in ("train", "val", "test", "reference", "pool")}
    files["transform"] = d / "transform.json"
    argv = [
        "--params",
        json.dumps({"condition": ["pt"], "split": {"train": 0.6, "val": 0.1, "test": 0.3}}),
    ]
    argv += ["--features", d / "g.h5"]
    for name, path in files.items():
        argv += [f"--{name}", path]
    out = run_stage(preprocess.STAGE, *argv)
    assert out.returncode == 0, out.stderr
    return d, files


def test_ingest_keeps_the_leading_particles_of_at_most_max_jets(prepared):
    d, _ = prepared
    clouds = read_clouds(d / "g.h5")
    assert len(clouds) == 1000 and clouds.n_particles == N  # 600 of the first, 400 of the second
    assert set(clouds.label) == {0}  # the class from the file name: g
    assert np.all(np.diff(clouds.particles[..., 2], axis=1)[clouds.mask[:, 1:]] <= 0)


def test_preprocess_splits_are_disjoint_and_invert_to_the_jets(prepared):
    d, files = prepared
    clouds = read_clouds(d / "g.h5")
    splits = {name: load_cloud_split(files[name]) for name in ("train", "val", "test")}
    rows = np.concatenate([s["row"] for s in splits.values()])
    assert len(np.unique(rows)) == len(rows) and len(splits["train"]["row"]) == 600
    for split in splits.values():
        particles, mask = split_particles(split["features"])
        assert np.array_equal(mask, clouds.mask[split["row"]])
        back = split["preprocessor"].particles.inverse(particles, mask)
        assert np.allclose(back, clouds.particles[split["row"]], atol=2e-6)
        # the context: the condition (log pT standardized), then n / N
        assert np.allclose(split["context"][:, -1], mask.sum(1) / N)
        pt = split["preprocessor"].condition.inverse(split["context"][:, :1].astype(float))["pt"]
        assert np.allclose(pt, clouds.jets["pt"][split["row"]], rtol=1e-6)
    # training sees the same arrays through the tabular reader
    assert read_split_arrays(files["train"])["features"].shape == (600, N, 4)
    reference, pool = read_clouds(files["reference"]), read_clouds(files["pool"])
    assert len(reference) + len(pool) == len(splits["test"]["row"])
    assert np.array_equal(pool.particles, clouds.particles[splits["test"]["row"][1::2]])


def test_preprocess_refuses_a_split_left_empty(tmp_path, prepared):
    d, _ = prepared
    argv = ["--params", json.dumps({"split": {"train": 0.998, "val": 0.001, "test": 0.001}})]
    argv += ["--features", d / "g.h5"]
    for name in ("train", "val", "test", "reference", "pool"):
        argv += [f"--{name}", tmp_path / f"{name}.h5"]
    out = run_stage(preprocess.STAGE, *argv, "--transform", tmp_path / "t.json")
    assert out.returncode == 1
    assert "jets.preprocess.split: 1000 jets leave the test split(s) (nearly) empty" in out.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def trained(prepared):
    """A tiny EPiC-FM trained for one epoch on the prepared gluon jets."""
    from genhep import train

    d, files = prepared
    m = d / "epic_fm"
    params = {
        "family": "epic_fm",
        "train": {"epochs": 1, "batch_size": 200},
        "model": {"hidden": 16},
    }
    argv = ["--params", json.dumps(params), "--train", files["train"], "--val", files["val"]]
    for name, file in (
        ("model", "model.pt"),
        ("hparams", "h.json"),
        ("history", "h.csv"),
        ("plot", "l.png"),
        ("info", "i.json"),
        ("checkpoint", "c.pt"),
    ):
        argv += [f"--{name}", m / file]
    out = run_stage(train.STAGE, *argv)
    assert out.returncode == 0, out.stderr
    return m / "model.pt"


def _sample(prepared, model, shard, path, events=120):
    _, files = prepared
    params = {"events_per_shard": events, "batch_size": 50, "shard": shard, "device": "cpu"}
    out = run_stage(
        sample_stage.STAGE,
        "--params",
        json.dumps(params),
        "--model",
        model,
        "--test",
        files["test"],
        "--pool",
        files["pool"],
        "--samples",
        path,
    )
    assert out.returncode == 0, out.stderr
    return read_clouds(path)


def test_sampling_is_reproducible_sharded_and_physical(prepared, trained, tmp_path):
    a = _sample(prepared, trained, 0, tmp_path / "a.h5")
    again = _sample(prepared, trained, 0, tmp_path / "again.h5")
    b = _sample(prepared, trained, 1, tmp_path / "b.h5")
    assert np.array_equal(a.particles, again.particles) and np.array_equal(a.mask, again.mask)
    assert not np.array_equal(a.particles, b.particles)
    assert len(a) == 120 and a.n_particles == N
    pool = read_clouds(prepared[1]["pool"])
    # every jet's pT is a pool jet's; pT_rel in its physical range, by pT descending
    assert np.isin(a.jets["pt"], pool.jets["pt"]).all()
    assert (a.particles[..., 2][a.mask] >= 0).all()
    assert np.all(np.diff(a.particles[..., 2], axis=1)[a.mask[:, 1:]] <= 0)
    assert np.array_equal(a.jets["num_particles"], a.mask.sum(1))
    out = run_stage(
        gather_stage.STAGE,
        "--params",
        "{}",
        "--shards",
        tmp_path / "a.h5",
        tmp_path / "b.h5",
        "--samples",
        tmp_path / "all.h5",
    )
    assert out.returncode == 0, out.stderr
    gathered = read_clouds(tmp_path / "all.h5")
    assert np.array_equal(gathered.particles, np.concatenate([a.particles, b.particles]))


def test_multiplicities_follow_the_training_set_given_the_jet_pt(prepared, trained, tmp_path):
    """The multiplicity is drawn given the pool jet's pT: harder jets get more particles,
    as in the training set (synthetic_jetnet: Poisson mean rising with pT)."""
    jets = _sample(prepared, trained, 0, tmp_path / "m.h5", events=400)
    hard = jets.jets["pt"] > np.median(jets.jets["pt"])
    assert jets.mask[hard].sum(1).mean() > jets.mask[~hard].sum(1).mean() + 1.5


def test_leaderboard_orders_rows_truth_first_then_by_w1m(tmp_path):
    def record(family, w1m, cls="g30"):
        pair = [w1m, w1m / 10]
        return {
            "family": family,
            "class": cls,
            "w1m": pair,
            "w1p": {"mean": pair},
            "w1efp": {"mean": pair},
            "fpd": pair,
            "kpd": pair,
            "auc": [0.5, 0.01],
            "training_seconds": 10.0,
            "sampling_jets_per_second": 1000.0,
        }

    paths = []
    for i, (family, w) in enumerate([("epic_gan", 3e-3), ("truth", 1e-3), ("epic_fm", 2e-3)]):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(record(family, w)))
    out = run_stage(
        leaderboard.STAGE,
        "--params",
        "{}",
        "--metrics",
        *paths,
        "--table",
        tmp_path / "t.md",
        "--csv",
        tmp_path / "t.csv",
    )
    assert out.returncode == 0, out.stderr
    rows = (tmp_path / "t.md").read_text().splitlines()[4:]
    assert [r.split("|")[2].strip() for r in rows] == ["truth", "epic_fm", "epic_gan"]
    assert rows[1].split("|")[3].strip() == "2 ± 0.2"  # W1M ×1e3
    assert rows[2].split("|")[9].strip() == "3.00"  # W1M / truth
