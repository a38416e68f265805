"""The diffusion family's schedule and samplers, checked without training.

For Gaussian data x_0 ~ N(μ, s²) (per feature) the ideal network is known in closed form:
x_t = √ᾱ x_0 + √(1 − ᾱ) ε is Gaussian with variance V = ᾱ s² + 1 − ᾱ, and

    E[ε | x_t] = √(1 − ᾱ) (x_t − √ᾱ μ) / V,   E[x_0 | x_t] = μ + √ᾱ s² (x_t − √ᾱ μ) / V.

Plugging that in for the network tests the samplers alone: they must return N(μ, s²).
Adding a small constant error to it measures how the samplers amplify a network's error.
"""

import pytest
import torch

from genhep.errors import GenhepError
from genhep.models import build_model, load_model
from genhep.models.diffusion import Diffusion, cosine_alpha_bar

T = 200
# Standardized data: features of width ≤ 1; a narrow one is where samplers err most.
MU = torch.tensor([1.0, -0.5])
S = torch.tensor([0.3, 1.0])
# What the old code (before the v-prediction default) saved in a checkpoint's hparams.
OLD_HPARAMS = {
    "hidden": 16,
    "layers": 2,
    "timesteps": T,
    "schedule": "cosine",
    "time_dim": 16,
    "sampler": "ddpm",
    "sample_steps": 50,
    "eta": 0.0,
    "clip_x0": 6.0,
}


class ExactGaussian(Diffusion):
    """A diffusion model whose 'network' is the exact prediction for N(MU, S²) data."""

    def __init__(self, error: float = 0.0, **hparams):
        hparams = {"timesteps": T, "hidden": 8, "layers": 1, "clip_x0": 0.0, **hparams}
        super().__init__(len(MU), 0, **hparams)
        self.error = error

    def network(self, x_t, t, c):
        ab = self.alpha_bar[t][:, None]
        var = ab * S**2 + 1 - ab
        eps = (1 - ab).sqrt() * (x_t - ab.sqrt() * MU) / var
        x0 = MU + ab.sqrt() * S**2 * (x_t - ab.sqrt() * MU) / var
        if self.hparams["prediction"] == "v":
            return ab.sqrt() * eps - (1 - ab).sqrt() * x0 + self.error
        return eps + self.error


def test_default_schedule_is_well_conditioned():
    model = Diffusion(3, 1, timesteps=T)
    ab = model.alpha_bar
    assert model.hparams["prediction"] == "v"
    assert ab[0] == 1 and ab[-1] == 0  # zero terminal SNR: x_T is pure noise
    assert (ab[1:] < ab[:-1]).all()
    # A network error δ moves x by < 0.01 δ in DDPM's first step, < 0.02 δ in any DDPM
    # step and < 0.3 δ in a 10-step DDIM's (the old default: 31.6 δ and 629 δ at first).
    assert model.output_error_gain(T, T - 1, eta=1.0) < 0.01
    assert max(model.output_error_gain(t, t - 1, eta=1.0) for t in range(1, T + 1)) < 0.02
    times = model.time_grid(10)
    for eta in (0.0, 1.0):
        gains = [model.output_error_gain(t, p, eta) for t, p in zip(times, times[1:], strict=False)]
        assert max(gains) < 0.3, gains


def test_old_cosine_first_step_amplifies_by_one_over_sqrt_alpha_T():
    model = Diffusion(3, 1, timesteps=T, schedule="cosine")
    ab = model.alpha_bar
    alpha_T = ab[T] / ab[T - 1]
    assert model.hparams["prediction"] == "eps"
    assert alpha_T.item() == pytest.approx(0.001, rel=1e-4)  # β_T clipped at 0.999
    assert model.output_error_gain(T, T - 1, eta=1.0) == pytest.approx(
        1 / alpha_T.sqrt().item(), rel=1e-3
    )
    assert model.output_error_gain(T, T - 1, eta=1.0) == pytest.approx(31.6, abs=0.1)
    assert model.output_error_gain(T, 180) > 600  # DDIM-10's first step
    # after the first step DDPM's gain is at most ≈ 2 (β ≤ 0.75 for t < T)
    assert max(model.output_error_gain(t, t - 1, eta=1.0) for t in range(1, T)) < 2.1


def test_old_checkpoint_rebuilds_the_old_model(tmp_path):
    """A checkpoint without 'prediction' is an ε-model on the clipped cosine, sampled as before."""
    torch.manual_seed(0)
    model = build_model("diffusion", 2, 1, dict(OLD_HPARAMS))
    payload = {
        "family": "diffusion",
        "n_features": 2,
        "n_context": 1,
        "hparams": dict(OLD_HPARAMS),
        "state_dict": model.state_dict(),
    }
    torch.save(payload, tmp_path / "old.pt")
    loaded, _ = load_model(tmp_path / "old.pt")
    assert loaded.hparams["prediction"] == "eps"
    expected = cosine_alpha_bar(T)
    assert torch.equal(loaded.alpha_bar, expected.float())
    assert expected[-1].item() == pytest.approx(6.07e-8, rel=1e-2)

    # The old code's DDPM loop, verbatim, against today's sampler with the same noise.
    c = torch.rand(500, 1)
    torch.manual_seed(1)
    new = loaded.sample(500, c, sampler="ddpm")
    torch.manual_seed(1)
    x = torch.randn(500, 2)
    ab = loaded.alpha_bar
    with torch.no_grad():
        for t in range(T, 0, -1):
            alpha_t = ab[t] / ab[t - 1]
            beta_t = 1 - alpha_t
            eps = loaded.network(x, torch.full((500,), t), c)
            x = (x - beta_t / (1 - ab[t]).sqrt() * eps) / alpha_t.sqrt()
            if t > 1:
                x = x + (beta_t * (1 - ab[t - 1]) / (1 - ab[t])).sqrt() * torch.randn_like(x)
    assert torch.allclose(new, x, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("hparams", [{}, {"schedule": "cosine"}])
def test_ddim_with_all_steps_and_eta_1_is_ddpm(hparams):
    torch.manual_seed(0)
    model = Diffusion(2, 1, timesteps=50, hidden=16, layers=2, **hparams)
    c = torch.rand(300, 1)
    torch.manual_seed(3)
    ddpm = model.sample(300, c, sampler="ddpm")
    torch.manual_seed(3)
    ddim = model.sample(300, c, sampler="ddim", steps=50, eta=1.0, clip_x0=0)
    assert torch.allclose(ddpm, ddim, atol=1e-4)


@pytest.mark.parametrize(
    "schedule",
    # Not "linear": at T = 200 its β reach 0.1, and DDPM's posterior variance β̃ then
    # leaves a width-0.3 feature 4.5 % narrow even with the exact network.
    [{}, {"schedule": "cosine"}, {"schedule": "cosine", "prediction": "v"}],
)
@pytest.mark.parametrize(
    "sampler",
    [
        {"sampler": "ddpm"},
        {"sampler": "ddim", "steps": T, "eta": 0.0},
        {"sampler": "ddim", "steps": T, "eta": 1.0},
        {"sampler": "dpm2m", "steps": 50},
    ],
)
def test_samplers_with_the_exact_network_give_the_data_distribution(schedule, sampler):
    torch.manual_seed(0)
    x = ExactGaussian(**schedule).sample(40_000, **sampler)
    # statistical errors: 0.01 on the mean (s = 2), 0.4 % on the standard deviation
    assert torch.allclose(x.mean(0), MU, atol=0.03), x.mean(0)
    assert torch.allclose(x.std(0), S, rtol=0.025), x.std(0)


def ddim_width(alpha_bar, times, s):
    """The output width of deterministic DDIM with the exact network, in closed form.

    Each step is affine in x_t with slope (√(ᾱ_p ᾱ_t) s² + √((1 − ᾱ_p)(1 − ᾱ_t))) / V_t,
    V_t = ᾱ_t s² + 1 − ᾱ_t, and x_T has width 1: the product of the slopes. By
    Cauchy-Schwarz each slope is at most √(V_p / V_t): DDIM narrows the data.
    """
    ab, width = alpha_bar.double(), 1.0
    for t, p in zip(times, times[1:], strict=False):
        var = ab[t] * s**2 + 1 - ab[t]
        width *= ((ab[p] * ab[t]).sqrt() * s**2 + ((1 - ab[p]) * (1 - ab[t])).sqrt()) / var
    return float(width)


@pytest.mark.parametrize("steps", [20, 50])
def test_few_step_ddim_narrows_the_data_as_predicted(steps):
    """DDIM's first-order steps lose width (a property of the method, here 3-15 %), and the
    sampler reproduces the closed form; DPM-Solver++(2M) removes most of the loss."""
    model = ExactGaussian()
    times = model.time_grid(steps)
    expected = [ddim_width(model.alpha_bar, times, s) for s in S.tolist()]
    torch.manual_seed(0)
    x = model.sample(40_000, sampler="ddim", steps=steps, eta=0.0)
    assert x.std(0).tolist() == pytest.approx(expected, rel=0.01)
    ddim_error = max(abs(w / s - 1) for w, s in zip(expected, S.tolist(), strict=True))
    assert ddim_error > 0.03
    torch.manual_seed(0)
    x = model.sample(40_000, sampler="dpm2m", steps=steps)
    assert (x.std(0) / S - 1).abs().max() < 0.4 * ddim_error


def test_a_network_error_is_not_amplified_by_the_default():
    """A constant output error of 0.01 (a well-trained net's size at high noise) moves a
    10-step DDIM's events by 0.011 on average with the default, and by 0.53 with the old
    ε-model on the clipped cosine: its first x̂_0 = (x_T − ε̂)/√ᾱ_T is off by
    0.01/2.5e-4 = 40, clipped to −6, and the deterministic steps never forget it."""
    shifts = {}
    for name, hparams in {"default": {}, "old": {"schedule": "cosine"}}.items():
        torch.manual_seed(0)
        exact = ExactGaussian(**hparams).sample(20_000, sampler="ddim", steps=10, clip_x0=6.0)
        torch.manual_seed(0)
        wrong = ExactGaussian(error=0.01, **hparams)
        wrong = wrong.sample(20_000, sampler="ddim", steps=10, clip_x0=6.0)
        shifts[name] = (wrong - exact).abs().mean().item()
    assert shifts["default"] < 0.03, shifts
    assert shifts["old"] > 0.3, shifts


@pytest.mark.parametrize(
    "hparams, message",
    [
        ({"schedule": "quadratic"}, "schedule must be one of"),
        ({"prediction": "x0"}, "prediction must be one of None, v, eps"),
        ({"prediction": "eps"}, "schedule cosine_zero_snr needs prediction v"),
    ],
)
def test_bad_hparams_name_the_key(hparams, message):
    with pytest.raises(GenhepError, match=f"families.diffusion: diffusion: {message}"):
        build_model("diffusion", 2, 0, hparams)


def test_bad_sampler_settings():
    model = Diffusion(2, timesteps=20)
    with pytest.raises(ValueError, match=r"sample_steps must be in 1\.\.20, not 40"):
        model.sample(5, sampler="ddim", steps=40)
    with pytest.raises(ValueError, match="sampler must be ddpm, ddim or dpm2m"):
        model.sample(5, sampler="euler")
