"""Flow matching on particle clouds with an EPiC velocity field ("EPiC-FM").

Buhmann, Ewen, Faroughy, Golling, Kasieczka, Leigh, Quétant, Raine, Sengupta, Shih,
"EPiC-ly Fast Particle Cloud Generation with Flow-Matching and Diffusion", arXiv
2310.00049; the lectures' "High Fidelity Particle Cloud Generation with Flow Matching".
The method is genhep's tabular CFM (models/cfm.py; Lipman et al. 2022) applied to every
real particle at once:

    x_t = (1 − t) x_0 + t x_1,   x_0 ~ N(0, I) per real particle,   t ~ U(0, 1) per jet,
    L = mean over real particles of ‖v_θ(x_t, t, c)_i − (x_1 − x_0)_i‖²

with v_θ an EPiC network (models/clouds/epic.py), so the learned field is
permutation-equivariant and the generated distribution permutation-invariant. Why one t
per jet and not per particle: the whole cloud travels from noise to data together, and
the network sees a consistent noise level when it pools over the particles.

Sampling integrates dx/dt = v_θ from t = 0 to 1 with torchdiffeq's fixed-step solvers
(``ode_steps``, ``solver``), starting from noise at the real slots of the masks drawn from
the context; padded slots stay 0 throughout (the field is 0 there).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchdiffeq import odeint

from genhep.hparams import EpicFMHparams
from genhep.models.base import TimeEmbedding
from genhep.models.clouds.base import (
    CloudGenerator,
    Noise,
    masked_mean,
    split_cloud,
    zero_padding,
)
from genhep.models.clouds.epic import EPiC


class EpicFM(CloudGenerator):
    family = "epic_fm"
    hparams_class = EpicFMHparams

    def __init__(self, n_particles: int, n_features: int, n_context: int, **hparams):
        super().__init__(n_particles, n_features, n_context, **hparams)
        hp = self.hparams
        self.time_embedding = TimeEmbedding(hp["time_dim"])
        self.velocity_net = EPiC(
            n_features,
            n_context + hp["time_dim"],
            hp["hidden"],
            hp["global_dim"],
            hp["layers"],
            n_out=n_features,
        )

    def velocity(self, x: Tensor, t: Tensor, c: Tensor, mask: Tensor) -> Tensor:
        """v_θ(x_t, t, c) at every real slot, 0 at padded ones; t is (B,)."""
        return self.velocity_net(x, mask, torch.cat([c, self.time_embedding(t)], dim=-1))

    def draw_noise(self, x: Tensor) -> Noise:
        """One loss evaluation's random draws (see ``loss``)."""
        b, n = x.shape[:2]
        noise = {"x0": torch.randn(b, n, self.n_features, device=x.device)}
        noise["t"] = torch.rand(b, device=x.device)
        if self.hparams["sigma_min"] > 0:
            noise["path"] = torch.randn(b, n, self.n_features, device=x.device)
        return noise

    def loss(self, x: Tensor, c: Tensor, noise: Noise | None = None) -> Tensor:
        """The flow-matching loss; ``noise`` (``draw_noise``) fixes the draws, for tests."""
        self.check_batch(x)
        x1, mask = split_cloud(x)
        noise = self.draw_noise(x) if noise is None else noise
        x0 = zero_padding(noise["x0"], mask)
        t = noise["t"][:, None, None]
        x_t = (1 - t) * x0 + t * x1
        if "path" in noise:
            x_t = x_t + self.hparams["sigma_min"] * zero_padding(noise["path"], mask)
        error = ((self.velocity(x_t, noise["t"], c, mask) - (x1 - x0)) ** 2).sum(-1)
        return masked_mean(error, mask)

    @torch.no_grad()
    def generate(self, n: int, c: Tensor, mask: Tensor, steps: int | None = None) -> Tensor:
        steps = steps or self.hparams["ode_steps"]
        x0 = zero_padding(torch.randn(n, self.n_particles, self.n_features, device=c.device), mask)

        def field(t: Tensor, x: Tensor) -> Tensor:
            return self.velocity(x, t.expand(len(x)), c, mask)

        times = torch.tensor([0.0, 1.0], device=c.device)
        path = odeint(
            field, x0, times, method=self.hparams["solver"], options={"step_size": 1.0 / steps}
        )
        return path[-1]
