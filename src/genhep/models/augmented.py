"""A wrapper that trains a generator with extra noise dimensions and drops them on sampling.

Used by the amplification study (``genhep.amplification.study``) to give a 1-D flow the
coupling it lacks. Not a family of its own: it is not in ``FAMILIES``, and the wrapped
model keeps its family's name.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genhep.models.base import Generator


class Augmented(Generator):
    """Train ``inner`` on (x, ε), ε ~ N(0, I) drawn afresh at every step; samples drop ε.

    The joint density is p(x) N(ε) at the optimum, so the x-marginal of the samples is
    the fit to p(x); a 1-D MAF (one affine map per transform, a Gaussian) gains the
    autoregressive coupling it needs for two modes.
    """

    family = "augmented"

    def __init__(self, inner: Generator, extra: int):
        super().__init__(inner.n_features - extra, inner.n_context)
        self.inner, self.extra = inner, extra
        self.family = inner.family
        self.hparams = {**inner.hparams, "augment": extra}

    def _augment(self, x: Tensor) -> Tensor:
        return torch.cat([x, torch.randn(len(x), self.extra, device=x.device)], dim=1)

    def configure_optimizers(self, lr: float):
        return self.inner.configure_optimizers(lr)

    def training_step(self, x, c, optimizers):
        return self.inner.training_step(self._augment(x), c, optimizers)

    @torch.no_grad()
    def validation_loss(self, x, c):
        return self.inner.validation_loss(self._augment(x), c)

    @torch.no_grad()
    def sample(self, n, c=None):
        return self.inner.sample(n, c)[:, : self.n_features]
