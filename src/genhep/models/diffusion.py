"""Denoising diffusion (Ho et al. 2020), with DDPM, DDIM and DPM-Solver++(2M) samplers.

Forward process. Data x_0 are noised in T steps; at step t (t = 1..T)

    x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,   ε ~ N(0, I),

with ᾱ_0 = 1 falling to ᾱ_T ≈ 0 (the noise schedule; α_t = ᾱ_t / ᾱ_{t−1} = 1 − β_t is one
step's share). It helps to write ᾱ_t = cos² φ_t: x_t = cos φ_t x_0 + sin φ_t ε is a
rotation by the angle φ_t from data (φ = 0) to noise (φ = π/2), with signal-to-noise
ratio SNR_t = ᾱ_t / (1 − ᾱ_t) = cot² φ_t.

What the network predicts (``prediction``). A network f_θ(x_t, t, c) regresses either
  * the noise, "eps":   target ε, loss ‖ε − f_θ‖² (Ho et al.), or
  * the velocity, "v":  target v = cos φ_t ε − sin φ_t x_0 = √ᾱ_t ε − √(1 − ᾱ_t) x_0,
    loss ‖v − f_θ‖² (Salimans & Ho 2022): x_t rotated by a further 90°.
Either way the samplers turn the output into a denoised guess x̂_0 and a noise guess ε̂:
  eps:  ε̂ = f_θ,                          x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t
  v:    x̂_0 = √ᾱ_t x_t − √(1 − ᾱ_t) f_θ,  ε̂ = √(1 − ᾱ_t) x_t + √ᾱ_t f_θ

Samplers (``sampler``), from x_T ~ N(0, I), each step t → p (p < t):
    x_p = √ᾱ_p x̂_0 + √(1 − ᾱ_p − σ²) ε̂ + σ z,   z ~ N(0, I),
    σ = η √((1 − ᾱ_p) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_p)
  ddim (Song et al. 2020): ``sample_steps`` S ≤ T steps on t_k = T (1 − k/S); ``eta``
      η = 0 is deterministic (the probability-flow ODE, to first order).
  ddpm (ancestral): all T steps p = t − 1 with η = 1; then σ² = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)
      and the update equals Ho et al.'s x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t + σ z.
  dpm2m (DPM-Solver++(2M), Lu et al. 2022, arXiv 2211.01095): deterministic DDIM (η = 0)
      with x̂_0 replaced by its linear extrapolation in λ = log(√ᾱ/√(1 − ᾱ)) from the last
      two steps, D = x̂_0 + (x̂_0 − x̂_0,prev) h / (2 h_prev), h = λ_p − λ_t: second order,
      still one network pass per step. DDIM's first-order steps lose width on narrow
      features (tests/test_diffusion.py computes it for Gaussians); this removes most of it.

Conditioning: why the default is v-prediction with zero terminal SNR. A network error δ
in its output moves x_p by gain × δ, with (η = 0; ``output_error_gain`` for any η)
    v:    gain = |sin(φ_t − φ_p)| ≤ 1                         for every step,
    eps:  gain = |sin(φ_t − φ_p)| / cos φ_t = |sin(φ_t − φ_p)| / √ᾱ_t,
because ε-prediction divides by √ᾱ_t to get x̂_0. Near pure noise √ᾱ_t → 0 and the
ε-model's errors are blown up: with the old default (cosine, β clipped at 0.999, T = 200,
ᾱ_T ≈ 6e-8) DDPM's first step has gain 1/√α_T ≈ 31.6 and a 10-step DDIM's first step
(t = 200 → 180) ≈ 630, which turns the network's small error at t = T into a garbage x̂_0
(clipped to ±``clip_x0``). DDPM mostly recovers (its fresh noise forgets x_T) but keeps
outliers; deterministic DDIM cannot, which is why it trailed DDPM (benchmarks/NOTES.md,
section 7). With v-prediction nothing is divided, so the schedule can end at exactly
ᾱ_T = 0 ("zero terminal SNR", Lin et al. 2023, arXiv 2305.08891): x_T is pure noise in
training too, exactly what sampling starts from, and the first x̂_0 = −f_θ is the
network's estimate of the mean E[x_0 | c].

Schedules (``schedule``), ᾱ_t for t = 0..T, f(t) = cos²(π/2 · (t/T + s) / (1 + s)), s = 0.008:
  cosine_zero_snr (default): ᾱ_t = f(t)/f(0), ending at ᾱ_T = 0; needs prediction "v".
  cosine: the same with every β_t clipped at 0.999 (Nichol & Dhariwal 2021), so that
      ᾱ_T ≈ 6e-8 > 0 (T = 200); the default before, with "eps".
  linear: β_t from 1e-4 to 0.02, rescaled so that T steps add the noise of 1000 (Ho et al.).
A checkpoint saved without a ``prediction`` key (before it existed) is an ε-model: the
prediction defaults to "v" for cosine_zero_snr and "eps" for the other two schedules, so
old checkpoints (schedule "cosine" stored) rebuild and sample as before.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genhep.hparams import DiffusionHparams
from genhep.models.base import Generator, TimeEmbedding, mlp, with_context


def _alpha_bar_from_betas(betas: Tensor) -> Tensor:
    # β ≤ 0.999 keeps ᾱ_T > 0, which ε-prediction needs (it divides by √ᾱ_t).
    betas = betas.clamp(max=0.999)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])


def _log_snr_half(alpha: float, sigma: float) -> float:
    """λ = log(α/σ) = ½ log SNR, ±∞ at pure noise and at clean data."""
    if alpha == 0:
        return -math.inf
    return math.inf if sigma == 0 else math.log(alpha / sigma)


def _cosine_f(T: int, s: float) -> Tensor:
    t = torch.linspace(0, T, T + 1, dtype=torch.float64) / T
    return torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2


def cosine_alpha_bar(T: int, s: float = 0.008) -> Tensor:
    """ᾱ_t for t = 0..T from the cosine schedule with β clipped at 0.999 (Nichol & Dhariwal)."""
    f = _cosine_f(T, s)
    return _alpha_bar_from_betas(1 - f[1:] / f[:-1])


def cosine_zero_snr_alpha_bar(T: int, s: float = 0.008) -> Tensor:
    """ᾱ_t = f(t)/f(0) for t = 0..T, unclipped, with ᾱ_T = 0 exactly (zero terminal SNR)."""
    f = _cosine_f(T, s)
    alpha_bar = f / f[0]
    alpha_bar[-1] = 0.0  # cos²(π/2) is 4e-33 in floating point; make it the exact 0
    return alpha_bar


def linear_alpha_bar(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """The DDPM paper's linear β schedule, rescaled so that T steps add the same noise as 1000."""
    return _alpha_bar_from_betas(
        torch.linspace(beta_start, beta_end, T, dtype=torch.float64) * (1000 / T)
    )


class Diffusion(Generator):
    family = "diffusion"
    hparams_class = DiffusionHparams

    def __init__(self, n_features: int, n_context: int = 0, **hparams):
        super().__init__(n_features, n_context, **hparams)
        hp = self.hparams
        T, schedule = hp["timesteps"], hp["schedule"]  # checked by DiffusionHparams
        if hp["prediction"] is None:  # stored resolved, so a checkpoint names it
            hp["prediction"] = "v" if schedule == "cosine_zero_snr" else "eps"
        alpha_bar = {
            "cosine_zero_snr": cosine_zero_snr_alpha_bar,
            "cosine": cosine_alpha_bar,
            "linear": linear_alpha_bar,
        }[schedule](T)
        self.register_buffer("alpha_bar", alpha_bar.float())  # index t = 0..T; ᾱ_0 = 1
        self.time_embedding = TimeEmbedding(hp["time_dim"])
        # Named eps_net since it predicted ε only; kept so that old checkpoints load.
        self.eps_net = mlp(
            n_features + hp["time_dim"] + n_context, n_features, hp["hidden"], hp["layers"]
        )

    def network(self, x_t: Tensor, t: Tensor, c: Tensor | None) -> Tensor:
        """The raw output f_θ(x_t, t, c): ε̂ or v̂, as ``prediction`` says."""
        h = torch.cat([x_t, self.time_embedding(t.float() / self.hparams["timesteps"])], dim=-1)
        return self.eps_net(with_context(h, c))

    def x0_and_eps(self, x_t: Tensor, t: int, out: Tensor) -> tuple[Tensor, Tensor]:
        """(x̂_0, ε̂) from the network output at step t (the module docstring's formulas)."""
        ab = self.alpha_bar[t]
        if self.hparams["prediction"] == "v":
            return ab.sqrt() * x_t - (1 - ab).sqrt() * out, (1 - ab).sqrt() * x_t + ab.sqrt() * out
        return (x_t - (1 - ab).sqrt() * out) / ab.sqrt(), out

    def loss(self, x, c):
        T = self.hparams["timesteps"]
        t = torch.randint(1, T + 1, (len(x),), device=x.device)
        eps = torch.randn_like(x)
        ab = self.alpha_bar[t][:, None]
        x_t = ab.sqrt() * x + (1 - ab).sqrt() * eps
        if self.hparams["prediction"] == "v":
            target = ab.sqrt() * eps - (1 - ab).sqrt() * x
        else:
            target = eps
        return ((target - self.network(x_t, t, c)) ** 2).sum(-1).mean()

    @torch.no_grad()
    def sample(
        self,
        n,
        c=None,
        sampler: str | None = None,
        steps: int | None = None,
        eta: float | None = None,
        clip_x0: float | None = None,
    ):
        """The keyword arguments override the hparams of the same names."""
        c = self._context_for(n, c)
        hp = self.hparams
        sampler = sampler or hp["sampler"]
        x = torch.randn(n, self.n_features, device=self.device)
        T = hp["timesteps"]
        if sampler == "ddpm":
            for t in range(T, 0, -1):
                x = self._step(x, t, t - 1, 1.0, None, c)
            return x
        if sampler not in ("ddim", "dpm2m"):
            raise ValueError(f"diffusion: sampler must be ddpm, ddim or dpm2m, not {sampler!r}")
        times = self.time_grid(steps or hp["sample_steps"])
        clip = hp["clip_x0"] if clip_x0 is None else clip_x0
        if sampler == "dpm2m":
            return self._sample_dpm2m(x, times, clip, c)
        eta = hp["eta"] if eta is None else eta
        for t, p in zip(times[:-1], times[1:], strict=True):
            x = self._step(x, t, p, eta, clip, c)
        return x

    def time_grid(self, steps: int) -> list[int]:
        """The S + 1 steps T = t_0 > t_1 > ... > t_S = 0 of DDIM and DPM-Solver++:
        t_k = T (1 − k/S), rounded. (A quadratic grid, denser at low noise, did worse on
        the toy: benchmarks/NOTES.md section 7.)"""
        T = self.hparams["timesteps"]
        if not 1 <= steps <= T:
            raise ValueError(f"diffusion: sample_steps must be in 1..{T}, not {steps}")
        return torch.linspace(T, 0, steps + 1).round().long().tolist()

    def _sigma(self, t: int, p: int, eta: float) -> Tensor:
        ab_t, ab_p = self.alpha_bar[t], self.alpha_bar[p]
        return eta * ((1 - ab_p) / (1 - ab_t) * (1 - ab_t / ab_p)).sqrt()

    def _step(self, x: Tensor, t: int, p: int, eta: float, clip: float | None, c) -> Tensor:
        """One step t → p of the module docstring's update."""
        out = self.network(x, torch.full((len(x),), t, device=x.device), c)
        x0, eps = self.x0_and_eps(x, t, out)
        ab_t, ab_p = self.alpha_bar[t], self.alpha_bar[p]
        if clip:
            # Keeps a wild x̂_0 (an ε-model near pure noise, see the docstring) in the
            # data's range; ε̂ is made consistent with the clipped x̂_0.
            x0 = x0.clamp(-clip, clip)
            eps = (x - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
        sigma = self._sigma(t, p, eta)
        x = ab_p.sqrt() * x0 + (1 - ab_p - sigma**2).clamp(min=0).sqrt() * eps
        if p > 0 and eta > 0:
            x = x + sigma * torch.randn_like(x)
        return x

    def _sample_dpm2m(self, x: Tensor, times: list[int], clip, c) -> Tensor:
        """DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095): DDIM's step with x̂_0
        replaced by a linear extrapolation D from the last two x̂_0 in log-SNR λ."""
        ab = self.alpha_bar.double().cpu()  # step coefficients as Python floats: no syncs
        x0_prev, h_prev = None, math.inf
        for t, p in zip(times[:-1], times[1:], strict=True):
            out = self.network(x, torch.full((len(x),), t, device=x.device), c)
            x0, _ = self.x0_and_eps(x, t, out)
            if clip:
                x0 = x0.clamp(-clip, clip)
            a_t, s_t = ab[t].sqrt().item(), (1 - ab[t]).sqrt().item()
            a_p, s_p = ab[p].sqrt().item(), (1 - ab[p]).sqrt().item()
            h = _log_snr_half(a_p, s_p) - _log_snr_half(a_t, s_t)
            D = x0
            if x0_prev is not None and math.isfinite(h) and math.isfinite(h_prev):
                D = x0 + (x0 - x0_prev) * h / (2 * h_prev)  # 1/(2r), r = h_prev / h
            # x_p = σ_p/σ_t x_t + α_p (1 − e^(−h)) D; with D = x̂_0 this is DDIM (η = 0)
            x = (s_p / s_t) * x + (a_p - s_p * a_t / s_t) * D
            x0_prev, h_prev = x0, h
        return x

    def output_error_gain(self, t: int, p: int, eta: float = 0.0) -> float:
        """How much an error in the network output moves x_p in the step t → p.

        The update is linear in the output f_θ: x_p = a x_t + g f_θ + σ z; this is |g|.
        ε-prediction: g = √(1 − ᾱ_p − σ²) − √ᾱ_p √(1 − ᾱ_t) / √ᾱ_t (DDPM's first step of
        the clipped cosine: 1/√α_T ≈ 31.6); v-prediction: g = √(1 − ᾱ_p − σ²) √ᾱ_t −
        √ᾱ_p √(1 − ᾱ_t), at most 1.
        """
        ab_t, ab_p = self.alpha_bar[t].double(), self.alpha_bar[p].double()
        noise = (1 - ab_p - self._sigma(t, p, eta).double() ** 2).clamp(min=0).sqrt()
        if self.hparams["prediction"] == "v":
            gain = noise * ab_t.sqrt() - ab_p.sqrt() * (1 - ab_t).sqrt()
        else:
            gain = noise - ab_p.sqrt() * (1 - ab_t).sqrt() / ab_t.sqrt()
        return abs(float(gain))
