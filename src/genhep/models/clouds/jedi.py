"""Diffusion on particle clouds with an EPiC denoiser ("EPiC-JeDi", PC-JeDi style).

Leigh, Sengupta, Quétant, Raine, Zoch, Golling, "PC-JeDi: Diffusion for Particle Cloud
Generation in High Energy Physics", SciPost Phys. 16 (2024) 018, arXiv 2303.05376; with
the EPiC backbone as in EPiC-JeDi (Buhmann et al., arXiv 2310.00049). The method is
genhep's tabular diffusion (models/diffusion.py, whose docstring derives the formulas;
its noise schedules are imported from there) applied to every real particle at once:

    x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,   ε ~ N(0, I) per real particle,   t ~ U{1..T} per jet,
    L = mean over real particles of ‖target_i − f_θ(x_t, t, c)_i‖²,
    target = v = √ᾱ_t ε − √(1 − ᾱ_t) x_0   (prediction "v", the default), or ε ("eps").

Why v-prediction on the zero-terminal-SNR cosine schedule by default: the sampler here
takes few steps (``sample_steps``, default 25), and with v nothing is divided by √ᾱ_t,
so a network error moves a step by at most itself (models/diffusion.py, "Conditioning");
the first step from pure noise then lands on the network's estimate of E[x_0 | c].

Sampling is deterministic (the probability-flow ODE): ``ddim`` (Song et al. 2020, η = 0)
or ``dpm2m`` (DPM-Solver++(2M), Lu et al. 2022, arXiv 2211.01095), DDIM with x̂_0
replaced by its extrapolation in log-SNR from the last two steps: second order at the
same one network pass per step, so fewer steps lose less width. Padded slots stay 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genhep.hparams import EpicJediHparams
from genhep.models.base import TimeEmbedding
from genhep.models.clouds.base import (
    CloudGenerator,
    Noise,
    masked_mean,
    split_cloud,
    zero_padding,
)
from genhep.models.clouds.epic import EPiC
from genhep.models.diffusion import (
    _log_snr_half,
    cosine_alpha_bar,
    cosine_zero_snr_alpha_bar,
    linear_alpha_bar,
)

SCHEDULES = {
    "cosine_zero_snr": cosine_zero_snr_alpha_bar,
    "cosine": cosine_alpha_bar,
    "linear": linear_alpha_bar,
}


class EpicJedi(CloudGenerator):
    family = "epic_jedi"
    hparams_class = EpicJediHparams

    def __init__(self, n_particles: int, n_features: int, n_context: int, **hparams):
        super().__init__(n_particles, n_features, n_context, **hparams)
        hp = self.hparams
        if hp["prediction"] is None:  # stored resolved, so a saved model names it
            hp["prediction"] = "v" if hp["schedule"] == "cosine_zero_snr" else "eps"
        alpha_bar = SCHEDULES[hp["schedule"]](hp["timesteps"])
        self.register_buffer("alpha_bar", alpha_bar.float())  # index t = 0..T; ᾱ_0 = 1
        self.time_embedding = TimeEmbedding(hp["time_dim"])
        self.denoiser = EPiC(
            n_features,
            n_context + hp["time_dim"],
            hp["hidden"],
            hp["global_dim"],
            hp["layers"],
            n_out=n_features,
        )

    def network(self, x_t: Tensor, t: Tensor, c: Tensor, mask: Tensor) -> Tensor:
        """f_θ(x_t, t, c): v̂ or ε̂ at every real slot, 0 at padded ones; t is (B,) in 1..T."""
        time = self.time_embedding(t.float() / self.hparams["timesteps"])
        return self.denoiser(x_t, mask, torch.cat([c, time], dim=-1))

    def draw_noise(self, x: Tensor) -> Noise:
        """One loss evaluation's random draws (see ``loss``)."""
        b, n = x.shape[:2]
        t = torch.randint(1, self.hparams["timesteps"] + 1, (b,), device=x.device)
        return {"t": t, "eps": torch.randn(b, n, self.n_features, device=x.device)}

    def loss(self, x: Tensor, c: Tensor, noise: Noise | None = None) -> Tensor:
        """The denoising loss; ``noise`` (``draw_noise``) fixes the draws, for tests."""
        self.check_batch(x)
        x0, mask = split_cloud(x)
        noise = self.draw_noise(x) if noise is None else noise
        eps = zero_padding(noise["eps"], mask)
        ab = self.alpha_bar[noise["t"]][:, None, None]
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        if self.hparams["prediction"] == "v":
            target = ab.sqrt() * eps - (1 - ab).sqrt() * x0
        else:
            target = eps
        error = ((target - self.network(x_t, noise["t"], c, mask)) ** 2).sum(-1)
        return masked_mean(error, mask)

    def x0_estimate(self, x_t: Tensor, t: int, out: Tensor) -> Tensor:
        """x̂_0 from the network output at step t (models/diffusion.py's formulas)."""
        ab = self.alpha_bar[t]
        if self.hparams["prediction"] == "v":
            return ab.sqrt() * x_t - (1 - ab).sqrt() * out
        return (x_t - (1 - ab).sqrt() * out) / ab.sqrt()

    def time_grid(self, steps: int) -> list[int]:
        """T = t_0 > t_1 > ... > t_S = 0, evenly spaced and rounded (as the tabular DDIM)."""
        T = self.hparams["timesteps"]
        if not 1 <= steps <= T:
            raise ValueError(f"{self.family}: sample_steps must be in 1..{T}, not {steps}")
        return torch.linspace(T, 0, steps + 1).round().long().tolist()

    @torch.no_grad()
    def generate(
        self, n: int, c: Tensor, mask: Tensor, sampler: str | None = None, steps: int | None = None
    ) -> Tensor:
        """Deterministic sampling from x_T ~ N(0, I) at the real slots; the keyword
        arguments override the hparams of the same names."""
        hp = self.hparams
        second_order = (sampler or hp["sampler"]) == "dpm2m"
        x = zero_padding(torch.randn(n, self.n_particles, self.n_features, device=c.device), mask)
        ab = self.alpha_bar.double().cpu()  # step coefficients as Python floats: no syncs
        x0_prev, h_prev = None, math.inf
        times = self.time_grid(steps or hp["sample_steps"])
        for t, p in zip(times[:-1], times[1:], strict=True):
            out = self.network(x, torch.full((n,), t, device=x.device), c, mask)
            x0 = self.x0_estimate(x, t, out)
            if hp["clip_x0"]:  # keeps a wild x̂_0 in the standardized data's range
                x0 = x0.clamp(-hp["clip_x0"], hp["clip_x0"])
            a_t, s_t = ab[t].sqrt().item(), (1 - ab[t]).sqrt().item()
            a_p, s_p = ab[p].sqrt().item(), (1 - ab[p]).sqrt().item()
            h = _log_snr_half(a_p, s_p) - _log_snr_half(a_t, s_t)
            D = x0
            if second_order and x0_prev is not None and math.isfinite(h * h_prev):
                D = x0 + (x0 - x0_prev) * h / (2 * h_prev)
            # DDIM (η = 0): x_p = √ᾱ_p D + √(1 − ᾱ_p) ε̂, with ε̂ = (x_t − √ᾱ_t D) / √(1 − ᾱ_t)
            x = (s_p / s_t) * x + (a_p - s_p * a_t / s_t) * D
            x0_prev, h_prev = x0, h
        return x
