"""Denoising diffusion probabilistic model (Ho et al. 2020), with DDPM and DDIM samplers.

Forward process: q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), t = 1..T, with ᾱ_t = Π_s (1 − β_s)
from a noise schedule. A network ε_θ(x_t, t, c) learns to predict the noise:

    L = E_{t, x_0, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t, c)‖²

Samplers, from x_T ~ N(0, I):
  DDPM (ancestral, T steps):
      x_{t−1} = (x_t − β_t / √(1 − ᾱ_t) ε_θ) / √α_t + σ_t z,
      σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)
  DDIM (Song et al. 2020, any S ≤ T steps; η = 0 is deterministic):
      x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ) / √ᾱ_t
      x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε_θ + σ z,
      σ = η √((1 − ᾱ_prev) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_prev)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genhep.models.base import Generator, mlp, with_context


def _alpha_bar_from_betas(betas: Tensor) -> Tensor:
    # β ≤ 0.999 keeps every reverse step finite (ᾱ_T → 0 would divide by ~0).
    betas = betas.clamp(max=0.999)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])


def cosine_alpha_bar(T: int, s: float = 0.008) -> Tensor:
    """ᾱ_t for t = 0..T from the cosine schedule (Nichol & Dhariwal 2021)."""
    t = torch.linspace(0, T, T + 1, dtype=torch.float64) / T
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return _alpha_bar_from_betas(1 - f[1:] / f[:-1])


def linear_alpha_bar(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """The DDPM paper's linear β schedule, rescaled so that T steps add the same noise as 1000."""
    return _alpha_bar_from_betas(
        torch.linspace(beta_start, beta_end, T, dtype=torch.float64) * (1000 / T)
    )


class TimeEmbedding(nn.Module):
    """Sinusoidal features of t/T, as in transformers' position encodings."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(1000.0), dim // 2)))

    def forward(self, t: Tensor) -> Tensor:
        angles = t[:, None] * self.freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Diffusion(Generator):
    family = "diffusion"
    default_hparams = {
        "hidden": 128,
        "layers": 3,
        "timesteps": 200,
        "schedule": "cosine",
        "time_dim": 16,
        "sampler": "ddpm",  # ddpm (all T steps) | ddim (sample_steps)
        "sample_steps": 50,  # DDIM steps (DDPM always takes all T)
        "eta": 0.0,  # DDIM stochasticity: 0 deterministic, 1 ~ DDPM
        "clip_x0": 6.0,  # DDIM: clip the predicted x̂_0 (standardized data) to ±clip_x0
    }

    def __init__(self, n_features: int, n_context: int = 0, **hparams):
        super().__init__(n_features, n_context, **hparams)
        hp = self.hparams
        T = hp["timesteps"]
        if hp["schedule"] not in ("cosine", "linear"):
            raise ValueError(
                f"diffusion: schedule must be cosine or linear, not {hp['schedule']!r}"
            )
        alpha_bar = cosine_alpha_bar(T) if hp["schedule"] == "cosine" else linear_alpha_bar(T)
        self.register_buffer("alpha_bar", alpha_bar.float())  # index t = 0..T; ᾱ_0 = 1
        self.time_embedding = TimeEmbedding(hp["time_dim"])
        self.eps_net = mlp(
            n_features + hp["time_dim"] + n_context, n_features, hp["hidden"], hp["layers"]
        )

    def predict_noise(self, x_t: Tensor, t: Tensor, c: Tensor | None) -> Tensor:
        h = torch.cat([x_t, self.time_embedding(t.float() / self.hparams["timesteps"])], dim=-1)
        return self.eps_net(with_context(h, c))

    def loss(self, x, c):
        T = self.hparams["timesteps"]
        t = torch.randint(1, T + 1, (len(x),), device=x.device)
        eps = torch.randn_like(x)
        ab = self.alpha_bar[t][:, None]
        x_t = ab.sqrt() * x + (1 - ab).sqrt() * eps
        return ((eps - self.predict_noise(x_t, t, c)) ** 2).sum(-1).mean()

    @torch.no_grad()
    def sample(self, n, c=None, sampler: str | None = None, steps: int | None = None):
        c = self._context_for(n, c)
        sampler = sampler or self.hparams["sampler"]
        x = torch.randn(n, self.n_features, device=self.device)
        if sampler == "ddpm":
            return self._sample_ddpm(x, c)
        if sampler == "ddim":
            return self._sample_ddim(x, c, steps or self.hparams["sample_steps"])
        raise ValueError(f"diffusion: sampler must be ddpm or ddim, not {sampler!r}")

    def _sample_ddpm(self, x: Tensor, c: Tensor | None) -> Tensor:
        ab = self.alpha_bar
        for t in range(self.hparams["timesteps"], 0, -1):
            alpha_t = ab[t] / ab[t - 1]
            beta_t = 1 - alpha_t
            eps = self.predict_noise(x, torch.full((len(x),), t, device=x.device), c)
            x = (x - beta_t / (1 - ab[t]).sqrt() * eps) / alpha_t.sqrt()
            if t > 1:
                var = beta_t * (1 - ab[t - 1]) / (1 - ab[t])  # posterior variance β̃_t
                x = x + var.sqrt() * torch.randn_like(x)
        return x

    def _sample_ddim(self, x: Tensor, c: Tensor | None, steps: int) -> Tensor:
        T, eta, ab = self.hparams["timesteps"], self.hparams["eta"], self.alpha_bar
        times = torch.linspace(T, 0, steps + 1).round().long().tolist()
        for t, t_prev in zip(times[:-1], times[1:], strict=True):
            eps = self.predict_noise(x, torch.full((len(x),), t, device=x.device), c)
            x0 = (x - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()
            if self.hparams["clip_x0"]:
                # Early steps divide by a small √ᾱ_t; clipping x̂_0 to the data's range
                # keeps prediction errors there from blowing up (as DDPM/DDIM codes do).
                x0 = x0.clamp(-self.hparams["clip_x0"], self.hparams["clip_x0"])
                eps = (x - ab[t].sqrt() * x0) / (1 - ab[t]).sqrt()
            sigma = eta * ((1 - ab[t_prev]) / (1 - ab[t]) * (1 - ab[t] / ab[t_prev])).sqrt()
            x = ab[t_prev].sqrt() * x0 + (1 - ab[t_prev] - sigma**2).clamp(min=0).sqrt() * eps
            if eta > 0 and t_prev > 0:
                x = x + sigma * torch.randn_like(x)
        return x
