"""Set transforms: fitted on real particles only, invertible, padding exactly 0 on both
sides, saved and read back as JSON; the jet condition likewise."""

import json

import numpy as np
import pytest

from genhep.clouds import Clouds
from genhep.clouds.transforms import CloudPreprocessor, JetConditionTransform, ParticleTransform
from genhep.errors import GenhepError
from genhep.transforms import Preprocessor, TransformChain


def clouds(n_jets=200, n=10, seed=0):
    """Random clouds with 1..n real particles per jet, by pT_rel descending."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, n + 1, n_jets)
    mask = np.arange(n)[None, :] < counts[:, None]
    pt = -np.sort(-rng.exponential(1.0, (n_jets, n)), axis=1)
    ptrel = pt / np.where(mask, pt, 0).sum(axis=1, keepdims=True)
    x = np.stack([rng.normal(0, 0.1, (n_jets, n)), rng.normal(0, 0.1, (n_jets, n)), ptrel], -1)
    x = np.where(mask[..., None], x, 0).astype(np.float32)
    jets = {
        "pt": rng.uniform(0.9, 1.1, n_jets),
        "eta": rng.normal(0, 1, n_jets),
        "mass": rng.uniform(0.01, 0.2, n_jets),
        "num_particles": counts.astype(np.float64),
    }
    return Clouds(x, mask, jets)


def test_particle_transform_inverts_real_particles_and_keeps_padding_zero():
    c = clouds()
    t = ParticleTransform.build().fit(c.particles, c.mask)
    y = t.forward(c.particles, c.mask)
    assert y.dtype == np.float32 and y.shape == c.particles.shape
    assert np.all(y[~c.mask] == 0) and np.isfinite(y[c.mask]).all()
    # Standardized on real particles: mean 0, std 1 per feature.
    np.testing.assert_allclose(y[c.mask].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y[c.mask].std(axis=0), 1, atol=1e-5)
    back = t.inverse(y, c.mask)
    assert np.abs(back[c.mask] - c.particles[c.mask]).max() < 1e-6
    assert np.all(back[~c.mask] == 0)
    # Whatever a generator puts in padded slots stays out: 0 both ways.
    garbage = np.where(c.mask[..., None], y, 123.0).astype(np.float32)
    assert np.all(t.inverse(garbage, c.mask)[~c.mask] == 0)
    dirty = np.where(c.mask[..., None], c.particles, -7.0)
    np.testing.assert_array_equal(t.forward(dirty, c.mask), y)


def test_fitting_ignores_padded_slots():
    c = clouds()
    clean = ParticleTransform.build().fit(c.particles, c.mask).to_dict()
    # Garbage in every padded slot, and five more padded slots of garbage per jet.
    rng = np.random.default_rng(1)
    wide = np.concatenate([c.particles, rng.normal(50, 9, (len(c), 5, 3))], axis=1)
    wide[:, : c.n_particles][~c.mask] = rng.normal(-40, 9, (np.count_nonzero(~c.mask), 3))
    wide_mask = np.concatenate([c.mask, np.zeros((len(c), 5), bool)], axis=1)
    dirty = ParticleTransform.build().fit(wide, wide_mask).to_dict()
    assert json.dumps(dirty) == json.dumps(clean)
    # ... while fitting on the padding too would have moved every parameter.
    everything = ParticleTransform.build().fit(wide, np.ones_like(wide_mask)).to_dict()
    assert json.dumps(everything) != json.dumps(clean)


def test_ptrel_stays_physical_and_no_real_particle_means_an_error():
    c = clouds()
    t = ParticleTransform.build().fit(c.particles, c.mask)
    extreme = np.full(c.particles.shape, -1e3, dtype=np.float32)
    assert t.inverse(extreme, c.mask)[..., 2][c.mask].min() >= 0
    with pytest.raises(GenhepError, match="no real particle"):
        ParticleTransform.build().fit(c.particles, np.zeros_like(c.mask))


def test_jet_condition_log_scales_standardizes_and_inverts():
    c = clouds()
    cond = JetConditionTransform.build(["pt", "mass", "num_particles"]).fit(c.jets)
    assert cond.log == ["pt", "mass"]
    y = cond.forward(c.jets)
    assert y.shape == (len(c), 3) and y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(np.log(c.jets["pt"]), cond.chain.inverse(y)[:, 0], rtol=1e-6)
    back = cond.inverse(y)
    for k in cond.names:
        np.testing.assert_allclose(back[k], c.jets[k], rtol=1e-6)
    with pytest.raises(GenhepError, match="1 jet\\(s\\) with mass <= 0, which has no log"):
        cond.fit({**c.jets, "mass": np.r_[0.0, c.jets["mass"][1:]]})
    with pytest.raises(GenhepError, match="no jet feature \\['tau21'\\]"):
        JetConditionTransform.build(["tau21"]).fit(c.jets)
    with pytest.raises(GenhepError, match="log-scaled \\['eta'\\] are not among"):
        JetConditionTransform.build(["pt"], log=["eta"])


def test_cloud_preprocessor_json_round_trip(tmp_path):
    c = clouds()
    pre = CloudPreprocessor(
        ParticleTransform.build(), JetConditionTransform.build(["pt", "num_particles"])
    ).fit(c)
    path = tmp_path / "cloud_transform.json"
    path.write_text(pre.to_json())
    back = CloudPreprocessor.load(path)
    assert back.to_json() == pre.to_json()
    np.testing.assert_array_equal(
        back.particles.forward(c.particles, c.mask), pre.particles.forward(c.particles, c.mask)
    )
    np.testing.assert_array_equal(back.condition.forward(c.jets), pre.condition.forward(c.jets))
    unconditional = CloudPreprocessor(ParticleTransform.build(), None).fit(c)
    assert CloudPreprocessor.from_json(unconditional.to_json()).condition is None


def test_damaged_or_foreign_transform_json_is_named():
    c = clouds()
    table = Preprocessor(
        TransformChain.build(["x"], ["standardize"]).fit(np.arange(5.0)[:, None]), None
    )
    with pytest.raises(GenhepError, match="t.json is damaged .*kind is None, not 'clouds'"):
        CloudPreprocessor.from_json(table.to_json(), source="t.json")
    pre = CloudPreprocessor(ParticleTransform.build(), None).fit(c)
    broken = json.loads(pre.to_json())
    broken["particles"]["steps"][2]["std"][0] = float("nan")
    with pytest.raises(GenhepError, match="is damaged .*standardize std .* is not finite.*-R prep"):
        CloudPreprocessor.from_json(json.dumps(broken), source="c.json", written_by="prep")
