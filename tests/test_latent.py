"""The latent map LaCATHODE classifies in (genhep.cathode.latent, Generator.latent).

The toy is the LaCATHODE picture in two features: a context c ~ N(0, 1) (a standardized
mjj) and x | c ~ N(μ(c), I) with μ(c) = (1.5 c, −c), so x correlates with c strongly. A
conditional model that has learned it maps x to z ≈ x − μ(c): N(0, I) and free of c.

Tolerances, from measured values (1 thread, the budgets below, about 300 steps each):

* flows, x → z → x and z → x → z: max error 1.2e-6 (maf), 3.3e-6 (nsf) in float32;
  asserted < 1e-4;
* cfm, x → z → x (the ODE solved backward, then forward; midpoint): max error 6.1e-3 at
  10 steps, 4.0e-4 at the default 50, 3.1e-5 at 200, so the error is the solver's
  (second order), not a bug; asserted < 1e-2 at 50 steps and 4x below the 10 steps';
* the context moves z as −μ(c) should: mean shift (1.54, −0.99) for maf, (1.42, −0.93)
  nsf, (1.53, −0.92) cfm against (1.5, −1); asserted to 0.3;
* the trained maf on 20k held-out events: mean z (−0.014, 0.022), std z (1.013, 0.984),
  corr(z, c) (0.008, −0.005) where corr(x, c) is (0.84, −0.71); asserted to 0.1 each
  (mean and corr: about 4x the measured; the statistical error of each is 0.007).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genhep.cathode.latent import latent_map, mapping_member
from genhep.hparams import FAMILY_SPECS
from genhep.models import (
    CLOUD_FAMILIES,
    FAMILIES,
    EpochEnsemble,
    build_model,
    load_ensemble,
    save_model,
)
from genhep.training import Trainer, TrainSettings, seed_everything

MAPPED = ("maf", "nsf", "cfm")
UNMAPPED = ("gan", "wgan", "vae", "diffusion")
MEAN_SLOPE = np.array([1.5, -1.0])  # μ(c) = MEAN_SLOPE * c
# Each family trained briefly on 20k events: epochs x 79 batches = about 150-300 steps.
BUDGET = {
    "maf": dict(epochs=4, batch_size=256, lr=1e-3),
    "nsf": dict(epochs=2, batch_size=256, lr=3e-3),
    "cfm": dict(epochs=4, batch_size=256, lr=3e-3),
}


def gaussian_toy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal(n)
    x = MEAN_SLOPE * c[:, None] + rng.standard_normal((n, 2))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(c[:, None], dtype=torch.float32)


@pytest.fixture(scope="module")
def trained():
    """Each mapped family trained once (lazily) on the Gaussian toy, shared by the tests."""
    cache = {}

    def get(family):
        if family not in cache:
            seed_everything(0)
            model = build_model(family, 2, 1, {"hidden": 32})
            settings = TrainSettings(patience=0, **BUDGET[family])
            Trainer(model, settings, progress=False).fit(
                *gaussian_toy(20_000, 1), *gaussian_toy(2_000, 2)
            )
            cache[family] = model.eval()
        return cache[family]

    return get


def test_registry_and_spec_agree_on_which_families_have_a_map():
    """The workflow reads FAMILY_SPECS (no torch); the models carry the ClassVar."""
    assert [f for f, spec in FAMILY_SPECS.items() if spec.has_latent_map] == list(MAPPED)
    for name, cls in {**FAMILIES, **CLOUD_FAMILIES}.items():
        assert cls.has_latent_map == FAMILY_SPECS[name].has_latent_map, name


@pytest.mark.parametrize("family", ["maf", "nsf"])
def test_flow_round_trip_is_exact_to_float_precision(family, trained):
    model = trained(family)
    x, c = gaussian_toy(5_000, 3)
    z = model.latent(x, c)
    assert (model.from_latent(z, c) - x).abs().max() < 1e-4
    z0 = torch.randn(5_000, 2)
    assert (model.latent(model.from_latent(z0, c), c) - z0).abs().max() < 1e-4


def test_cfm_round_trip_is_exact_to_the_solver_accuracy(trained):
    model = trained("cfm")
    x, c = gaussian_toy(5_000, 3)
    error = (model.from_latent(model.latent(x, c), c) - x).abs().max()
    assert error < 1e-2
    # The error is the solver's: it shrinks with the step (midpoint: second order).
    coarse = model.from_latent(model.latent(x, c, steps=10), c, steps=10)
    assert error < (coarse - x).abs().max() / 4


@pytest.mark.parametrize("family", MAPPED)
def test_from_latent_is_the_sampling_map(family, trained):
    """``sample`` is ``from_latent`` of its own N(0, I) draws, bit for bit."""
    model = trained(family)
    c = torch.linspace(-2, 2, 500)[:, None]
    torch.manual_seed(7)
    sampled = model.sample(500, c)
    torch.manual_seed(7)
    assert torch.equal(model.from_latent(torch.randn(500, 2), c), sampled)


@pytest.mark.parametrize("family", MAPPED)
def test_latent_depends_on_the_context(family, trained):
    """z ≈ x − μ(c): the same x under a context larger by 1 moves by about −μ'(c)."""
    model = trained(family)
    x, c = gaussian_toy(2_000, 4)
    shift = (model.latent(x, c) - model.latent(x, c + 1.0)).mean(0).numpy()
    np.testing.assert_allclose(shift, MEAN_SLOPE, atol=0.3)


def test_trained_maf_maps_background_to_a_standard_normal_free_of_the_context(trained):
    model = trained("maf")
    x, c = gaussian_toy(20_000, 5)
    z = latent_map(model, x.numpy(), c.numpy())
    np.testing.assert_allclose(z.mean(0), 0, atol=0.1)
    np.testing.assert_allclose(z.std(0), 1, atol=0.1)
    corr_z = [np.corrcoef(z[:, i], c[:, 0])[0, 1] for i in range(2)]
    corr_x = [np.corrcoef(x[:, i], c[:, 0])[0, 1] for i in range(2)]
    np.testing.assert_allclose(corr_z, 0, atol=0.1)
    assert min(map(abs, corr_x)) > 0.6  # the features themselves do know c


@pytest.mark.parametrize("family", UNMAPPED)
def test_families_without_a_map_say_so(family):
    model = build_model(family, 2, 1, {"hidden": 8})
    x, c = gaussian_toy(10, 6)
    for call in (model.latent, model.from_latent, lambda x, c: latent_map(model, x, c)):
        with pytest.raises(NotImplementedError, match=rf"^{family} .*: maf, nsf, cfm$"):
            call(x, c)
    with pytest.raises(NotImplementedError, match=rf"^{family} "):
        latent_map(model, x[:0], c[:0])  # even with no events to map


def test_a_context_of_the_wrong_shape_is_refused(trained):
    x, c = gaussian_toy(10, 6)
    with pytest.raises(ValueError, match=r"maf: .* context of shape \(10, 1\), got \(9, 1\)"):
        trained("maf").latent(x, c[:9])
    with pytest.raises(ValueError, match="10 events but 9 context rows"):
        latent_map(trained("maf"), x, c[:9])


@pytest.mark.parametrize("family", MAPPED)
def test_latent_map_in_batches_is_one_call(family, trained):
    model = trained(family)
    x, c = gaussian_toy(1_001, 8)
    whole = model.latent(x, c).double().numpy()
    for batch_size in (1_001, 100, 7):
        z = latent_map(model, x.double().numpy(), c.double().numpy(), batch_size=batch_size)
        assert z.dtype == np.float64 and z.shape == (1_001, 2)
        np.testing.assert_allclose(z, whole, rtol=0, atol=1e-5)
    assert latent_map(model, x[:0], c[:0]).shape == (0, 2)


def test_ensemble_maps_with_its_best_member(trained):
    best, other = trained("maf"), build_model("maf", 2, 1, {"hidden": 32})
    ensemble = EpochEnsemble([best, other])
    assert mapping_member(ensemble) is best
    x, c = gaussian_toy(500, 9)
    z = latent_map(ensemble, x, c)
    np.testing.assert_array_equal(z, latent_map(best, x, c))
    assert not np.allclose(z, latent_map(other, x, c))


def test_saved_ensemble_lists_the_best_epoch_first(tmp_path):
    """The invariant mapping_member relies on: saved as genhep.train saves the kept epochs,
    loaded by load_ensemble, members[0] holds the lowest validation loss's weights."""
    seed_everything(0)
    model = build_model("maf", 2, 1, {"hidden": 8, "transforms": 1})
    settings = TrainSettings(epochs=4, batch_size=100, lr=3e-2, patience=0, best_k=3)
    result = Trainer(model, settings, progress=False).fit(
        *gaussian_toy(1_000, 10), *gaussian_toy(300, 11)
    )
    kept = [{"epoch": b["epoch"], "state_dict": b["state"]} for b in result.best_states]
    save_model(model, tmp_path / "m.pt", ensemble=kept)
    by_loss = sorted(result.history, key=lambda h: h["val_loss"])
    assert [b["epoch"] for b in result.best_states] == [h["epoch"] for h in by_loss[:3]]
    best = mapping_member(load_ensemble(tmp_path / "m.pt"))
    for name, value in model.state_dict().items():  # the model ends on the best epoch
        torch.testing.assert_close(best.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_latent_map_runs_on_the_model_device(trained):
    """Inputs on the CPU, the model on the GPU: mapped there, returned as numpy."""
    model = trained("maf")
    x, c = gaussian_toy(1_000, 12)
    on_cpu = latent_map(model, x, c)
    model.cuda()
    try:
        np.testing.assert_allclose(latent_map(model, x, c, batch_size=300), on_cpu, atol=1e-4)
    finally:
        model.cpu()
