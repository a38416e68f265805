"""Variational autoencoder with Gaussian encoder and decoder (Kingma & Welling 2013).

Encoder q(z | x, c) = N(μ_φ(x, c), diag σ_φ²(x, c)); prior p(z) = N(0, I);
decoder p(x | z, c) = N(μ_θ(z, c), diag σ_x²) with one learned width per feature.
Training maximises the β-weighted evidence lower bound, i.e. minimises

    L = −E_q[log p(x | z, c)] + β KL(q(z | x, c) ‖ N(0, I)),

with the expectation taken by one reparameterised draw z = μ_φ + σ_φ ε. For β = 1 the
negative loss is the ELBO, a lower bound on log p(x | c): ``log_prob`` returns that bound.
Sampling draws z from the prior and x from the decoder, noise included.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genhep.hparams import VAEHparams
from genhep.models.base import Generator, mlp, with_context

LOG_2PI = math.log(2 * math.pi)


class VAE(Generator):
    family = "vae"
    has_log_prob = True
    log_prob_is_bound = True  # the ELBO, not the exact likelihood
    hparams_class = VAEHparams

    def __init__(self, n_features: int, n_context: int = 0, **hparams):
        super().__init__(n_features, n_context, **hparams)
        hp = self.hparams
        self.encoder = mlp(n_features + n_context, 2 * hp["latent_dim"], hp["hidden"], hp["layers"])
        self.decoder = mlp(hp["latent_dim"] + n_context, n_features, hp["hidden"], hp["layers"])
        self.log_sigma_x = nn.Parameter(torch.zeros(n_features))

    def encode(self, x: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor]:
        mu, log_var = self.encoder(with_context(x, c)).chunk(2, dim=-1)
        return mu, log_var.clamp(-12.0, 8.0)

    def decode(self, z: Tensor, c: Tensor | None) -> Tensor:
        return self.decoder(with_context(z, c))

    def elbo_terms(self, x: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor]:
        """Per-event reconstruction log-likelihood and KL divergence."""
        mu, log_var = self.encode(x, c)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)  # reparameterisation
        x_mean = self.decode(z, c)
        # log N(x; x_mean, σ_x²), summed over features
        log_px = -0.5 * (
            ((x - x_mean) / self.log_sigma_x.exp()) ** 2 + 2 * self.log_sigma_x + LOG_2PI
        ).sum(-1)
        # KL(N(μ, σ²) ‖ N(0, 1)) in closed form, summed over latent dimensions
        kl = 0.5 * (mu**2 + log_var.exp() - 1.0 - log_var).sum(-1)
        return log_px, kl

    def loss(self, x, c):
        log_px, kl = self.elbo_terms(x, c)
        return (-log_px + self.hparams["beta"] * kl).mean()

    @torch.no_grad()
    def validation_loss(self, x, c):
        log_px, kl = self.elbo_terms(x, c)
        return (-log_px + kl).mean()  # the negative ELBO (β = 1) whatever β trains

    @torch.no_grad()
    def log_prob(self, x, c=None, n_draws: int = 32):
        """The ELBO, a lower bound on log p(x | c), averaged over ``n_draws`` draws of z.

        One draw is an unbiased but noisy estimate, and the exponential of a noisy
        estimate is biased upwards (Jensen): averaging keeps exp(ELBO) below p(x | c).
        """
        total = torch.zeros(len(x), device=x.device)
        for _ in range(n_draws):
            log_px, kl = self.elbo_terms(x, c)
            total += log_px - kl
        return total / n_draws

    @torch.no_grad()
    def sample(self, n, c=None):
        c = self._context_for(n, c)
        z = torch.randn(n, self.hparams["latent_dim"], device=self.device)
        x_mean = self.decode(z, c)
        return x_mean + self.log_sigma_x.exp() * torch.randn_like(x_mean)
