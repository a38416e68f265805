"""The one interface every generator family implements.

A family is a ``torch.nn.Module`` that knows how to

* take one optimisation step on a batch (``training_step``; most families only define
  ``loss`` and inherit the step),
* score held-out data (``validation_loss``: lower is better; used for best-epoch
  selection and early stopping),
* draw samples given a context (``sample``),
* and, where the family has one, evaluate a likelihood (``log_prob``) or map events to
  and from its latent space given the context (``latent`` / ``from_latent``; LaCATHODE
  classifies there: ``genhep.cathode.latent``).

Data are always in the preprocessed space: ``x`` of shape (n, n_features) and ``c`` of
shape (n, n_context), or ``c = None`` for unconditional models (n_context = 0). That is an
event table; a family of another data kind (particle clouds: ``genhep.models.clouds``)
says the shape of one row in ``data_shape`` and is built from it by ``from_shape``.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genhep.hparams import FAMILY_SPECS, FamilyHparams


def mlp(n_in: int, n_out: int, hidden: int, layers: int, activation=nn.SiLU) -> nn.Sequential:
    """``layers`` hidden layers of width ``hidden``; linear output."""
    sizes = [n_in] + [hidden] * layers
    modules: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        modules += [nn.Linear(a, b), activation()]
    modules.append(nn.Linear(sizes[-1], n_out))
    return nn.Sequential(*modules)


def with_context(x: Tensor, c: Tensor | None) -> Tensor:
    """Concatenate the context to a network input (no-op for unconditional models)."""
    return x if c is None else torch.cat([x, c], dim=-1)


def adam(params, lr: float, **kwargs: Any) -> torch.optim.Adam:
    """Adam, with the fused single-kernel update when the parameters are on a GPU.

    The fused update computes the same step in one launch instead of a dozen per tensor;
    on CPU the default (foreach) implementation is kept so CPU results do not change.
    """
    params = list(params)
    fused = bool(params) and params[0].device.type == "cuda"
    return torch.optim.Adam(params, lr=lr, fused=fused or None, **kwargs)


class TimeEmbedding(nn.Module):
    """Sinusoidal features of t/T, as in transformers' position encodings."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(1000.0), dim // 2)))

    def forward(self, t: Tensor) -> Tensor:
        angles = t[:, None] * self.freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Generator(nn.Module):
    """Base class of the families; see the module docstring for the contract."""

    family: ClassVar[str]
    has_log_prob: ClassVar[bool] = False
    # A bijection x <-> z given the context (``latent`` / ``from_latent``); mirrored,
    # without torch, by ``genhep.hparams.FamilySpec.has_latent_map``.
    has_latent_map: ClassVar[bool] = False
    # The family's typed hyperparameters (names, defaults, allowed values: genhep.hparams).
    hparams_class: ClassVar[type[FamilyHparams]] = FamilyHparams

    def __init__(self, n_features: int, n_context: int = 0, **hparams: Any):
        super().__init__()
        unknown = set(hparams) - {f.name for f in fields(self.hparams_class)}
        if unknown:
            raise ValueError(f"{self.family}: unknown hyperparameter(s) {sorted(unknown)}")
        self.n_features = n_features
        self.n_context = n_context
        try:
            self.hparams = self.hparams_class(**hparams).as_dict()
        except ValueError as err:
            raise ValueError(f"{self.family}: {err}") from None

    @classmethod
    def from_shape(cls, shape: tuple[int, ...], n_context: int, **hparams: Any) -> Generator:
        """The model for data whose rows have ``shape`` (the registry's constructor): here
        event tables, one row of ``n_features`` per event; other data kinds override it."""
        if len(shape) != 1:
            raise ValueError(
                f"{cls.family} takes event tables (events, features), not data of shape "
                f"(n, {', '.join(map(str, shape))})"
            )
        return cls(shape[0], n_context, **hparams)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """The shape of one row of the data (saved with the weights to rebuild the model)."""
        return (self.n_features,)

    # --- training -------------------------------------------------------------------

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"main": adam(self.parameters(), lr)}

    def loss(self, x: Tensor, c: Tensor | None) -> Tensor:
        """The training objective on a batch (single-objective families)."""
        raise NotImplementedError

    def training_step(
        self, x: Tensor, c: Tensor | None, optimizers: dict[str, torch.optim.Optimizer]
    ) -> dict[str, Tensor]:
        """One update; returns the batch's losses, detached (no host sync)."""
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        loss = self.loss(x, c)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    @torch.no_grad()
    def validation_loss(self, x: Tensor, c: Tensor | None) -> Tensor:
        return self.loss(x, c)

    # --- generation -----------------------------------------------------------------

    def sample(self, n: int, c: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def log_prob(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        raise NotImplementedError(f"{self.family} has no tractable likelihood")

    # --- latent space (LaCATHODE) ---------------------------------------------------

    def latent(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """The latent image z = f(x; c) of events ``x`` (n, n_features) under the context
        ``c`` (n, n_context): the inverse of sampling, z ~ N(0, I) where x follows the model.

        Only families with a bijection given the context have one (``has_latent_map``):
        the flows exactly, CFM up to its ODE solver's error. A family that draws x from
        noise it cannot recover (a GAN's generator, a VAE's decoder noise, a stochastic
        diffusion chain) raises NotImplementedError.
        """
        raise NotImplementedError(self._no_latent_map())

    def from_latent(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """The events x = f⁻¹(z; c) of latent points ``z`` under the context ``c``: what
        ``sample`` does to its own draws of z (see ``latent``)."""
        raise NotImplementedError(self._no_latent_map())

    def _no_latent_map(self) -> str:
        having = [name for name, spec in FAMILY_SPECS.items() if spec.has_latent_map]
        return (
            f"{self.family} has no invertible map between events and its latent space given "
            f"the context; families with one: {', '.join(having)}"
        )

    def _latent_context(self, x: Tensor, c: Tensor | None) -> Tensor | None:
        """``c`` checked against the events of a latent map (one context row per event)."""
        if self.n_context == 0:
            return None
        if c is None or c.shape != (len(x), self.n_context):
            got = None if c is None else tuple(c.shape)
            raise ValueError(
                f"{self.family}: the latent map of {len(x)} events needs a context of shape "
                f"({len(x)}, {self.n_context}), got {got}"
            )
        return c

    # --- helpers --------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _context_for(self, n: int, c: Tensor | None) -> Tensor | None:
        if self.n_context == 0:
            return None
        if c is None or len(c) != n:
            raise ValueError(
                f"{self.family}: sample() needs a context of shape ({n}, {self.n_context})"
            )
        return c


@torch.no_grad()
def sliced_wasserstein(a: Tensor, b: Tensor, n_projections: int = 64, seed: int = 0) -> Tensor:
    """Mean 1-Wasserstein distance over random 1-D projections of two samples.

    A likelihood-free validation score for adversarial families, whose losses say
    little about sample quality. Both samples are cut to the same size.
    """
    n = min(len(a), len(b))
    g = torch.Generator(device="cpu").manual_seed(seed)
    directions = torch.randn(a.shape[1], n_projections, generator=g).to(a.device)
    directions = directions / directions.norm(dim=0, keepdim=True)
    pa = torch.sort(a[:n] @ directions, dim=0).values
    pb = torch.sort(b[:n] @ directions, dim=0).values
    return (pa - pb).abs().mean()
