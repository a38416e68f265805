"""What every family of jets as particle clouds shares: the tensor layout and its masks.

Layout (one convention for training data and samples). A batch of B jets is a float32
tensor ``x`` of shape (B, N, F + 1): ``x[..., :F]`` the preprocessed particle features
(F = 3: Δη, Δφ, pT_rel after genhep.clouds.transforms), exactly 0 at padded slots, and
``x[..., F]`` the mask, 1.0 for a real particle and 0.0 for padding. The context ``c`` is
(B, C), C >= 1: the preprocessed jet condition columns and, as its LAST column, the
multiplicity fraction n/N. A sample's mask is the prefix of ``round(c[:, -1] N)`` slots.

Why a mask and not ragged lists: every jet is padded to the same N, so a batch is one
dense tensor and one network pass. The price is that the networks must never let a
padded slot influence a real one, and the losses must average over real particles only;
the data's masks are prefixes, but the networks here accept any mask pattern (a
permutation of the particles, padding included, is the same jet).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genhep.models.base import Generator

# A family's random draws for one loss evaluation, by name: per-particle draws have shape
# (B, N, ...), per-jet draws (B,) or (B, ...) with ndim < 3. Passing them in explicitly
# (``loss(x, c, noise)``) is what makes "permute the particles -> same loss" exact.
Noise = dict[str, Tensor]


def mask_from_context(c: Tensor, n_particles: int) -> Tensor:
    """The bool (B, N) mask of the first round(c[:, -1] N) slots (clamped to 0..N).

    ``torch.round`` rounds halves to even; a fraction k/N computed in float32 is within
    1e-6 of k/N, far from a half, so the count is k.
    """
    counts = torch.round(c[:, -1] * n_particles).clamp(0, n_particles)
    slots = torch.arange(n_particles, device=c.device)
    return slots[None, :] < counts[:, None]


def zero_padding(p: Tensor, mask: Tensor) -> Tensor:
    """p (B, N, ...) with padded slots set to exactly 0 (``where``, not a product with
    the mask: a NaN or inf in a padded slot must not leak out as NaN)."""
    return torch.where(mask[..., None], p, torch.zeros((), device=p.device, dtype=p.dtype))


def split_cloud(x: Tensor) -> tuple[Tensor, Tensor]:
    """(features (B, N, F), bool mask (B, N)) of a batch in the layout above. Whatever a
    padded slot holds in ``x`` is replaced by 0, so garbage there cannot reach a network."""
    mask = x[..., -1] > 0.5
    return zero_padding(x[..., :-1], mask), mask


def join_cloud(features: Tensor, mask: Tensor) -> Tensor:
    """The layout's (B, N, F + 1) tensor: features zeroed at padded slots, mask appended."""
    return torch.cat([zero_padding(features, mask), mask[..., None].to(features.dtype)], dim=-1)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` (B, N) over the real particles of the whole batch: every real
    particle weighs the same, padding weighs nothing (the losses' average)."""
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp(min=1)


def permute_noise(noise: Noise, perm: Tensor) -> Noise:
    """The same draws for particles reordered by ``perm`` (per-particle entries permuted,
    per-jet ones kept): a test's way to evaluate a loss on a permuted batch exactly."""
    return {k: v[:, perm] if v.ndim >= 3 else v for k, v in noise.items()}


class CloudGenerator(Generator):
    """Base class of the cloud families (see the module docstring for the layout).

    ``n_features`` is F, the features of one particle (the mask channel excluded);
    ``n_particles`` is N. A subclass defines the network and ``generate(n, c, mask)``,
    which returns the features (n, N, F) of jets with the given masks; ``sample`` draws the
    masks from the context and puts the result in the layout.
    """

    def __init__(self, n_particles: int, n_features: int, n_context: int, **hparams: Any):
        if n_context < 1:
            raise ValueError(
                f"{self.family} needs a context whose last column is the multiplicity "
                f"fraction n/N (n_context >= 1), got n_context = {n_context}"
            )
        if n_particles < 1 or n_features < 1:
            raise ValueError(
                f"{self.family} needs at least one particle slot and one feature, got "
                f"{n_particles} particles of {n_features} features"
            )
        super().__init__(n_features, n_context, **hparams)
        self.n_particles = n_particles

    @classmethod
    def from_shape(cls, shape: tuple[int, ...], n_context: int, **hparams: Any) -> Generator:
        """One row is a jet: (N particles, F features + the mask channel)."""
        if len(shape) != 2 or shape[1] < 2:
            raise ValueError(
                f"{cls.family} takes particle clouds (jets, particles, features + mask), not "
                f"data of shape (n, {', '.join(map(str, shape))}); an event table needs a "
                "tabular family"
            )
        return cls(shape[0], shape[1] - 1, n_context, **hparams)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (self.n_particles, self.n_features + 1)

    def check_batch(self, x: Tensor) -> None:
        """A clear error for a batch that is not in this model's layout."""
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(
                f"{self.family}: batches must have shape (jets, {self.n_particles}, "
                f"{self.n_features + 1}), not {tuple(x.shape)}"
            )

    def generate(self, n: int, c: Tensor, mask: Tensor) -> Tensor:
        """The features (n, N, F) of n jets whose real slots are ``mask`` (n, N)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, c: Tensor | None = None) -> Tensor:
        """n jets in the layout: the i-th has the first round(c[i, -1] N) slots real."""
        c = self._context_for(n, c)
        if n == 0:
            return torch.zeros(0, *self.data_shape, device=self.device)
        mask = mask_from_context(c, self.n_particles)
        return join_cloud(self.generate(n, c, mask), mask)
