"""Conditional flow matching with straight (optimal-transport) paths (Lipman et al. 2022).

A velocity field v_θ(x, t, c) is trained so that integrating dx/dt = v_θ from t = 0
(noise x_0 ~ N(0, I)) to t = 1 carries noise to data. For a pair (x_0, x_1) the
straight path x_t = (1 − t) x_0 + t x_1 has the constant velocity x_1 − x_0, and
regressing on it gives an unbiased estimate of the marginal field's objective:

    L = E_{t ~ U(0,1), x_0, x_1} ‖v_θ(x_t, t, c) − (x_1 − x_0)‖²

``sigma_min`` > 0 adds a little Gaussian noise around the path. Sampling solves the ODE
with torchdiffeq's fixed-step solvers; ``ode_steps`` trades speed against accuracy.

The ODE is also CFM's latent map (LaCATHODE): ``latent`` integrates it backward, from an
event at t = 1 to its noise at t = 0, and ``from_latent`` forward, as ``sample`` does. Each
direction is exact only up to the solver's discretisation error, so x → z → x returns x
to that accuracy, not to float precision as a flow does.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchdiffeq import odeint

from genhep.hparams import CFMHparams
from genhep.models.base import Generator, TimeEmbedding, mlp, with_context


class CFM(Generator):
    family = "cfm"
    hparams_class = CFMHparams
    has_latent_map = True

    def __init__(self, n_features: int, n_context: int = 0, **hparams):
        super().__init__(n_features, n_context, **hparams)
        hp = self.hparams
        self.time_embedding = TimeEmbedding(hp["time_dim"])
        self.velocity_net = mlp(
            n_features + hp["time_dim"] + n_context, n_features, hp["hidden"], hp["layers"]
        )

    def velocity(self, x: Tensor, t: Tensor, c: Tensor | None) -> Tensor:
        h = torch.cat([x, self.time_embedding(t)], dim=-1)
        return self.velocity_net(with_context(h, c))

    def loss(self, x1, c):
        x0 = torch.randn_like(x1)
        t = torch.rand(len(x1), device=x1.device)
        x_t = (1 - t[:, None]) * x0 + t[:, None] * x1
        if self.hparams["sigma_min"] > 0:
            x_t = x_t + self.hparams["sigma_min"] * torch.randn_like(x_t)
        target = x1 - x0
        return ((self.velocity(x_t, t, c) - target) ** 2).sum(-1).mean()

    @torch.no_grad()
    def sample(self, n, c=None, steps: int | None = None):
        c = self._context_for(n, c)
        x0 = torch.randn(n, self.n_features, device=self.device)
        return self._integrate(x0, c, 0.0, 1.0, steps)

    @torch.no_grad()
    def latent(self, x, c=None, steps: int | None = None):
        """The noise z (t = 0) that the ODE carries to the events ``x`` (t = 1): the same
        fixed-step solver as ``sample``, run backward."""
        return self._integrate(x, self._latent_context(x, c), 1.0, 0.0, steps)

    @torch.no_grad()
    def from_latent(self, z, c=None, steps: int | None = None):
        """The events that the sampling ODE carries the noise ``z`` to."""
        return self._integrate(z, self._latent_context(z, c), 0.0, 1.0, steps)

    def _integrate(
        self, x: Tensor, c: Tensor | None, start: float, end: float, steps: int | None
    ) -> Tensor:
        """Solve dx/dt = v(x, t, c) from t = ``start`` to ``end`` in ``steps`` fixed steps
        (default ``ode_steps``); torchdiffeq runs a decreasing time span backward."""
        steps = steps or self.hparams["ode_steps"]

        def field(t: Tensor, x: Tensor) -> Tensor:
            return self.velocity(x, t.expand(len(x)), c)

        times = torch.tensor([start, end], device=self.device)
        path = odeint(
            field, x, times, method=self.hparams["solver"], options={"step_size": 1.0 / steps}
        )
        return path[-1]
