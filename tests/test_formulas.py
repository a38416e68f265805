"""Known-answer tests of the models' formulas: each checks a number against a closed form.

No training: where a formula sits behind a network, the network is replaced by one whose
output is known exactly (a linear critic, a fixed encoder, the exact denoiser of a
point-mass data distribution), so the number under test has a closed form. Statistical
checks use fixed seeds and tolerances of about five standard errors.

The diffusion samplers with the exact network of Gaussian data (DDPM and DDIM with η = 1
give the data's mean and width; DDIM with all steps and η = 1 is DDPM) are checked in
tests/test_diffusion.py; here is the single step they are built from.
"""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from genhep.models.base import sliced_wasserstein
from genhep.models.cfm import CFM
from genhep.models.diffusion import (
    Diffusion,
    cosine_alpha_bar,
    cosine_zero_snr_alpha_bar,
    linear_alpha_bar,
)
from genhep.models.vae import VAE
from genhep.models.wgan import WGAN

S = 0.008  # the cosine schedules' offset


def cosine_f(t: float, T: int) -> float:
    """Nichol & Dhariwal's f(t) = cos²(π/2 · (t/T + s) / (1 + s))."""
    return math.cos((t / T + S) / (1 + S) * math.pi / 2) ** 2


class Fixed(nn.Module):
    """A network that returns the same row for every input row."""

    def __init__(self, row):
        super().__init__()
        self.row = torch.as_tensor(row, dtype=torch.float32)

    def forward(self, x):
        return self.row.expand(len(x), -1)


# --- diffusion: the ᾱ schedules ---------------------------------------------------------


@pytest.mark.parametrize("T", [10, 200, 1000])
def test_zero_snr_cosine_schedule_is_the_normalised_cosine_and_ends_at_zero(T):
    ab = cosine_zero_snr_alpha_bar(T)
    assert ab.dtype == torch.float64 and len(ab) == T + 1
    assert ab[0].item() == 1.0 and ab[T].item() == 0.0  # exactly
    for t in (1, T // 4, T // 2, T - 1):
        assert ab[t].item() == pytest.approx(cosine_f(t, T) / cosine_f(0, T), rel=1e-12)
    assert (ab[1:] < ab[:-1]).all()


def test_clipped_cosine_schedule_is_the_cosine_until_its_last_beta_is_clipped():
    T = 200
    ab = cosine_alpha_bar(T)
    assert ab[0].item() == 1.0
    for t in (1, 50, 100, 199):
        assert ab[t].item() == pytest.approx(cosine_f(t, T) / cosine_f(0, T), rel=1e-10)
    # β_T = 1 − f(T)/f(T−1) = 1 is clipped to 0.999: ᾱ_T = 0.001 ᾱ_{T−1} ≈ 6.07e-8 > 0,
    # while β_{T−1} ≈ 1 − (1/2)² = 0.75 is not clipped.
    assert ab[T].item() == pytest.approx(0.001 * ab[T - 1].item(), rel=1e-12)
    assert ab[T].item() == pytest.approx(6.07e-8, rel=1e-2)
    assert 1 - ab[T - 1].item() / ab[T - 2].item() == pytest.approx(0.75, abs=0.01)
    assert (ab[1:] < ab[:-1]).all()


@pytest.mark.parametrize("T", [100, 1000])
def test_linear_schedule_is_the_product_of_the_rescaled_linear_betas(T):
    ab = linear_alpha_bar(T)
    betas = [(1e-4 + (0.02 - 1e-4) * i / (T - 1)) * 1000 / T for i in range(T)]
    for t in (1, 2, T // 2, T):
        assert ab[t].item() == pytest.approx(math.prod(1 - b for b in betas[:t]), rel=1e-9)
    # Rescaled so that T steps add the noise of 1000: Σβ = 1000 (1e-4 + 0.02)/2 = 10.05.
    recovered = 1 - ab[1:] / ab[:-1]
    assert recovered.sum().item() == pytest.approx(10.05, rel=1e-9)
    assert (ab[1:] < ab[:-1]).all()
    if T == 1000:
        assert ab[T].item() == pytest.approx(4.036e-5, rel=1e-3)  # Ho et al.'s ᾱ_T


def test_linear_schedule_clips_beta_at_0_999():
    ab = linear_alpha_bar(10)  # rescaled β run from 0.01 to 2
    betas = 1 - ab[1:] / ab[:-1]
    assert betas.max().item() == pytest.approx(0.999, rel=1e-9)
    assert ab[-1].item() > 0


# --- diffusion: one DDIM step with η = 1 is the posterior q(x_p | x_t, x_0) -------------


def point_mass_network(model: Diffusion, x0: torch.Tensor):
    """The exact network output when every data point is x0: ε̂ = (x_t − √ᾱ x0)/√(1 − ᾱ)."""

    def network(x_t, t, c):
        ab = model.alpha_bar[t][:, None]
        eps = (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()
        if model.hparams["prediction"] == "v":
            return ab.sqrt() * eps - (1 - ab).sqrt() * x0
        return eps

    return network


@pytest.mark.parametrize(
    "schedule, t, p",
    [
        ("cosine_zero_snr", 200, 199),  # from pure noise (ᾱ_T = 0)
        ("cosine_zero_snr", 200, 120),
        ("cosine_zero_snr", 120, 100),
        ("cosine_zero_snr", 30, 1),
        ("cosine_zero_snr", 5, 0),  # the last step: no noise, x_0 itself
        ("cosine", 150, 100),
        ("cosine", 10, 9),
        ("linear", 100, 60),
    ],
)
def test_ddim_step_with_eta_1_draws_from_the_gaussian_posterior(schedule, t, p):
    """Bayes for q(x_p | x_0) = N(√ᾱ_p x_0, 1 − ᾱ_p) and q(x_t | x_p) = N(√(ᾱ_t/ᾱ_p) x_p,
    1 − ᾱ_t/ᾱ_p): precision 1/(1 − ᾱ_p) + (ᾱ_t/ᾱ_p)/(1 − ᾱ_t/ᾱ_p), mean the precision-
    weighted one. For p = t − 1 the variance is DDPM's β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)."""
    model = Diffusion(1, timesteps=200, schedule=schedule, hidden=4, layers=1)
    x0 = torch.tensor([0.7])
    model.network = point_mass_network(model, x0)
    ab_t, ab_p = model.alpha_bar[t].double().item(), model.alpha_bar[p].double().item()
    x_t = 0.3
    if p == 0:
        var, mean = 0.0, x0.item()
    else:
        ratio = ab_t / ab_p  # q(x_t | x_p)'s α
        var = 1 / (1 / (1 - ab_p) + ratio / (1 - ratio))
        mean = var * (
            math.sqrt(ab_p) * x0.item() / (1 - ab_p) + math.sqrt(ratio) * x_t / (1 - ratio)
        )
    if p == t - 1:
        beta = 1 - ab_t / ab_p
        assert var == pytest.approx(beta * (1 - ab_p) / (1 - ab_t), rel=1e-12)
    # σ from the float32 ᾱ: 1 − ᾱ_t/ᾱ_p loses digits when β is small
    assert model._sigma(t, p, 1.0).item() ** 2 == pytest.approx(var, rel=1e-4, abs=1e-12)

    n = 200_000
    torch.manual_seed(0)
    x_p = model._step(torch.full((n, 1), x_t), t, p, 1.0, None, None).double()
    se = math.sqrt(var / n)
    assert x_p.mean().item() == pytest.approx(mean, abs=5 * se + 1e-5)
    assert x_p.var().item() == pytest.approx(var, rel=5 * math.sqrt(2 / n), abs=1e-10)


# --- WGAN-GP: the gradient penalty -------------------------------------------------------


@pytest.mark.parametrize("weights, penalty", [([3.0, 4.0, 7.0], 16.0), ([0.6, 0.8, -2.0], 0.0)])
def test_gradient_penalty_of_a_linear_critic_is_its_slope_minus_one_squared(weights, penalty):
    """f(x, c) = w·(x, c) + b: ∇_x f = w_x everywhere (the context's weight is not part of
    it), so the penalty is (|w_x| − 1)² at every interpolated point."""
    model = WGAN(2, n_context=1)
    linear = nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([weights]))
        linear.bias.fill_(0.5)
    model.critic_net = linear
    torch.manual_seed(0)
    real, fake, c = torch.randn(64, 2), torch.randn(64, 2), torch.randn(64, 1)
    assert model.gradient_penalty(real, fake, c).item() == pytest.approx(penalty, abs=1e-5)


class HalfSquare(nn.Module):
    """f(x) = |x|²/2, whose gradient is x itself."""

    def forward(self, x):
        return 0.5 * (x**2).sum(-1, keepdim=True)


def test_gradient_penalty_is_taken_at_uniform_interpolates():
    """Real r, fake 0 and f = |x|²/2: ∇f(x̂) = ε r with ε ~ U(0, 1), so the penalty is
    E(ε|r| − 1)² = r²/3 − |r| + 1, which is 1/3 for |r| = 2."""
    model = WGAN(2)
    model.critic_net = HalfSquare()
    n = 200_000
    real = torch.tensor([1.2, -1.6]).expand(n, -1)  # |r| = 2
    torch.manual_seed(0)
    penalty = model.gradient_penalty(real, torch.zeros(n, 2), None).item()
    # sd of (2ε − 1)² is √(1/5 − 1/9) ≈ 0.30: five standard errors are 3.4e-3
    assert penalty == pytest.approx(1 / 3, abs=3.4e-3)


# --- VAE: the KL term and the reconstruction term ---------------------------------------

MU = [0.5, -1.0, 2.0]
LOG_VAR = [0.0, math.log(0.25), math.log(3.0)]


def vae_with_fixed_encoder() -> VAE:
    model = VAE(2, latent_dim=3)
    model.encoder = Fixed(MU + LOG_VAR)
    return model


def test_vae_kl_is_the_gaussian_closed_form():
    """KL(N(μ, σ²) ‖ N(0, 1)) = −log σ + (σ² + μ²)/2 − 1/2, summed over latent dims."""
    model = vae_with_fixed_encoder()
    expected = sum(
        -0.5 * lv + (math.exp(lv) + m**2) / 2 - 0.5 for m, lv in zip(MU, LOG_VAR, strict=True)
    )
    _, kl = model.elbo_terms(torch.randn(5, 2), None)
    assert kl.tolist() == pytest.approx([expected] * 5, rel=1e-6)


def test_vae_kl_matches_a_monte_carlo_estimate():
    """KL = E_q[log q(z) − log p(z)], estimated from 400 000 draws of q."""
    model = vae_with_fixed_encoder()
    _, kl = model.elbo_terms(torch.randn(1, 2), None)
    q = torch.distributions.Normal(
        torch.tensor(MU, dtype=torch.float64),
        torch.tensor(LOG_VAR, dtype=torch.float64).mul(0.5).exp(),
    )
    p = torch.distributions.Normal(0.0, 1.0)
    g = torch.Generator().manual_seed(0)
    z = q.loc + q.scale * torch.randn(400_000, 3, dtype=torch.float64, generator=g)
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)
    se = log_ratio.std().item() / math.sqrt(len(z))
    assert kl.item() == pytest.approx(log_ratio.mean().item(), abs=5 * se)


def test_vae_reconstruction_term_is_the_gaussian_log_density():
    model = vae_with_fixed_encoder()
    model.decoder = Fixed([0.2, -0.3])
    with torch.no_grad():
        model.log_sigma_x.copy_(torch.tensor([math.log(0.5), math.log(2.0)]))
    x = torch.tensor([[1.0, 1.0], [0.2, -0.3]])
    log_px, _ = model.elbo_terms(x, None)
    expected = norm.logpdf(x.numpy(), loc=[0.2, -0.3], scale=[0.5, 2.0]).sum(-1)
    assert log_px.tolist() == pytest.approx(expected.tolist(), rel=1e-6)


# --- sliced Wasserstein ------------------------------------------------------------------


def test_sliced_w1_of_a_shift_in_one_dimension_is_the_shift():
    a = torch.randn(1000, 1, generator=torch.Generator().manual_seed(0))
    assert sliced_wasserstein(a, a + 0.75).item() == pytest.approx(0.75, rel=1e-5)
    assert sliced_wasserstein(a + 0.75, a).item() == pytest.approx(0.75, rel=1e-5)


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_sliced_w1_of_a_shift_is_its_mean_projection_on_isotropic_directions(dim):
    """Shifting by d moves every projection on u by d·u, so the sliced W1 is E|d·u| over
    uniform unit u: |d| E|u_1|, E|u_1| = Γ(D/2) / (√π Γ((D + 1)/2)) (2/π in 2-D, 1/2 in
    3-D)."""
    d = torch.zeros(dim)
    d[0], d[-1] = 1.5, -2.0  # |d| = 2.5
    mean_abs_u1 = math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2)) / math.sqrt(math.pi)
    expected = 2.5 * mean_abs_u1
    sd = 2.5 * math.sqrt(1 / dim - mean_abs_u1**2)  # E u_1² = 1/D
    n_projections = 20_000
    a = torch.randn(20, dim, generator=torch.Generator().manual_seed(1))  # any a will do
    w1 = sliced_wasserstein(a, a + d, n_projections=n_projections, seed=3).item()
    assert w1 == pytest.approx(expected, abs=5 * sd / math.sqrt(n_projections))


def test_sliced_w1_in_one_dimension_is_the_quantile_distance():
    """W1(N(0, 1), N(0, 4)) = E|2Z − Z| = E|Z| = √(2/π), from evenly spaced quantiles."""
    n = 20_000
    z = torch.tensor(norm.ppf((np.arange(n) + 0.5) / n), dtype=torch.float32)[:, None]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    w1 = sliced_wasserstein(z[perm], 2 * z, n_projections=4).item()  # order must not matter
    assert w1 == pytest.approx(math.sqrt(2 / math.pi), rel=1e-3)


# --- CFM: the regression target ----------------------------------------------------------


def test_cfm_loss_is_zero_for_the_exact_velocity_of_a_point_mass():
    """Every data point at a: x_t = (1 − t) x_0 + t a, so the target a − x_0 is
    (a − x_t)/(1 − t), a function of (x_t, t) alone, and predicting it costs nothing."""
    a = torch.tensor([1.5, -0.5], dtype=torch.float64)
    model = CFM(2, hidden=4, layers=1)
    model.velocity = lambda x_t, t, c: (a - x_t) / (1 - t[:, None].double())
    torch.manual_seed(0)
    assert model.loss(a.expand(10_000, -1), None).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("sigma_min", [0.0, 0.1])
def test_cfm_loss_of_a_zero_network_is_the_mean_squared_target(sigma_min):
    """v = 0: the loss is E‖a − x_0‖² = |a|² + D for x_0 ~ N(0, I). The target is x_1 − x_0
    whatever sigma_min (which only blurs x_t), not Lipman et al.'s x_1 − (1 − σ_min) x_0,
    whose zero-network loss would be |a|² + (1 − σ_min)² D."""
    a = torch.tensor([1.5, -0.5], dtype=torch.float64)
    model = CFM(2, hidden=4, layers=1, sigma_min=sigma_min)
    model.velocity = lambda x_t, t, c: torch.zeros_like(x_t)
    n = 200_000
    torch.manual_seed(0)
    loss = model.loss(a.expand(n, -1), None).item()
    expected = (a**2).sum().item() + 2
    sd = math.sqrt(sum(4 * v**2 + 2 for v in a.tolist()))  # Var (v − z)² = 4v² + 2
    assert loss == pytest.approx(expected, abs=5 * sd / math.sqrt(n))
