"""Normalizing flows: MAF with affine transforms, and a rational-quadratic spline flow.

A flow is an invertible map f from data x to a base variable u = f(x; c) ~ N(0, I),
so the density is exact:

    log p(x | c) = log N(f(x; c); 0, I) + log |det ∂f/∂x|,

and training minimises the negative log-likelihood, L = −E_x log p(x | c).
Sampling inverts f: x = f⁻¹(u; c), u ~ N(0, I). The same pair is the flow's latent map
(``latent`` / ``from_latent``): u is where LaCATHODE classifies, since under the model it
is N(0, I) whatever the context.

* MAF (Papamakarios et al. 2017): a stack of autoregressive affine transforms whose
  shift and log-scale come from a MADE network conditioned on c; the density estimator
  CATHODE uses.
* NSF (Durkan et al. 2019): the same autoregressive structure with monotonic
  rational-quadratic splines, far more flexible per layer.

The transforms come from zuko, a well-kept flow library; what is written here is the
objective and the interface.
"""

from __future__ import annotations

import torch
import zuko

from genhep.hparams import MAFHparams, NSFHparams
from genhep.models.base import Generator


class _ZukoFlow(Generator):
    has_log_prob = True
    has_latent_map = True

    def build(self, n_features: int, n_context: int):
        raise NotImplementedError

    def __init__(self, n_features: int, n_context: int = 0, **hparams):
        super().__init__(n_features, n_context, **hparams)
        self.flow = self.build(n_features, n_context)

    def distribution(self, c):
        return self.flow(c) if self.n_context else self.flow()

    def log_prob(self, x, c=None):
        return self.distribution(c).log_prob(x)

    def loss(self, x, c):
        return -self.log_prob(x, c).mean()

    @torch.no_grad()
    def latent(self, x, c=None):
        """u = f(x; c): zuko's transform runs from data to the base variable."""
        return self.distribution(self._latent_context(x, c)).transform(x)

    @torch.no_grad()
    def from_latent(self, z, c=None):
        """x = f⁻¹(z; c), the map ``sample`` applies to its base draws."""
        return self.distribution(self._latent_context(z, c)).transform.inv(z)

    @torch.no_grad()
    def sample(self, n, c=None):
        c = self._context_for(n, c)
        # With a context of n rows the distribution has batch shape (n,): one draw each.
        return (
            self.distribution(c).sample() if c is not None else self.distribution(None).sample((n,))
        )


class MAF(_ZukoFlow):
    family = "maf"
    hparams_class = MAFHparams

    def build(self, n_features, n_context):
        hp = self.hparams
        return zuko.flows.MAF(
            features=n_features,
            context=n_context,
            transforms=hp["transforms"],
            hidden_features=[hp["hidden"]] * hp["layers"],
        )


class NSF(_ZukoFlow):
    family = "nsf"
    hparams_class = NSFHparams

    def build(self, n_features, n_context):
        hp = self.hparams
        return zuko.flows.NSF(
            features=n_features,
            context=n_context,
            transforms=hp["transforms"],
            bins=hp["bins"],
            hidden_features=[hp["hidden"]] * hp["layers"],
        )
