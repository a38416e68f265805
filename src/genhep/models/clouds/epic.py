"""The EPiC backbone: equivariant point-cloud layers with a jet-level global vector.

EPiC layers are from Buhmann, Kasieczka, Thaler, "EPiC-GAN: Equivariant Point Cloud
Generation for Particle Jets", SciPost Phys. 15 (2023) 130, arXiv 2301.08128; the same
backbone carries EPiC-FM and EPiC-JeDi (Buhmann et al., arXiv 2310.00049).

Why this design. A jet is a *set* of particles: the network must not care in which order
they come (permutation symmetry), and it must handle any number of them. Full attention
between all particle pairs does that at O(N²) cost; an EPiC layer does it at O(N) by
letting the particles talk only through a small global vector g (the "jet summary"):

    global update:  g ← g + MLP_g([g, mean_i p_i, (Σ_i p_i) / N, cond])
    local update:   p_i ← p_i + MLP_p([p_i, g])         (the same MLP for every particle)

Mean and sum pooling are permutation-invariant, so g is; the local update treats every
particle alike, so p is permutation-equivariant (permute the input particles -> the output
particles are permuted the same way). The sum pool carries the multiplicity that the
mean pool hides; dividing it by the padded length N keeps it O(1). There is no positional
information anywhere: nothing could tell slot 3 from slot 7.

Masking. Pools run over real particles only, padded slots are reset to 0 after every
update, and the input features of padded slots are zeroed before the first layer, so
whatever a padded slot holds never reaches a real one; outputs at padded slots are 0.

Two heads:
* per-particle (equivariant): a linear map of [p_i, g], for a velocity, a noise or a
  generated particle;
* pooled (invariant): an MLP of [g, mean p, sum p / N], a scalar per jet for a
  discriminator.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genhep.models.base import mlp
from genhep.models.clouds.base import zero_padding


def pool(p: Tensor, mask: Tensor) -> Tensor:
    """[masked mean, masked sum / N] of the particle features p (B, N, H): (B, 2H)."""
    m = mask[..., None].to(p.dtype)
    total = (p * m).sum(dim=1)
    count = m.sum(dim=1).clamp(min=1)  # an empty jet pools to 0, not NaN
    return torch.cat([total / count, total / p.shape[1]], dim=-1)


class EPiCLayer(nn.Module):
    """One EPiC layer: the global then the local residual update (module docstring)."""

    def __init__(self, hidden: int, global_dim: int, cond_dim: int, activation=nn.SiLU):
        super().__init__()
        self.global_mlp = mlp(global_dim + 2 * hidden + cond_dim, global_dim, hidden, 1, activation)
        self.local_mlp = mlp(hidden + global_dim, hidden, hidden, 1, activation)

    def forward(self, p: Tensor, g: Tensor, mask: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        g = g + self.global_mlp(torch.cat([g, pool(p, mask), cond], dim=-1))
        broadcast = g[:, None, :].expand(-1, p.shape[1], -1)
        p = p + self.local_mlp(torch.cat([p, broadcast], dim=-1))
        return zero_padding(p, mask), g


class EPiC(nn.Module):
    """An EPiC network: embeddings, ``layers`` EPiC layers and the heads asked for.

    ``n_in`` features per particle, ``cond_dim`` per jet (the context, plus a time
    embedding or a latent where the family has one); ``n_out`` > 0 builds the
    per-particle head, ``pooled_out`` > 0 the pooled one.
    """

    def __init__(
        self,
        n_in: int,
        cond_dim: int,
        hidden: int,
        global_dim: int,
        layers: int,
        n_out: int = 0,
        pooled_out: int = 0,
        activation=nn.SiLU,
    ):
        super().__init__()
        # The condition enters the particle embedding too: every particle sees it from
        # the first layer on, not only through g.
        self.embed_particles = mlp(n_in + cond_dim, hidden, hidden, 1, activation)
        self.embed_global = mlp(cond_dim, global_dim, hidden, 1, activation)
        self.layers = nn.ModuleList(
            EPiCLayer(hidden, global_dim, cond_dim, activation) for _ in range(layers)
        )
        self.particle_head = nn.Linear(hidden + global_dim, n_out) if n_out else None
        self.pooled_head = (
            mlp(global_dim + 2 * hidden, pooled_out, hidden, 1, activation) if pooled_out else None
        )

    def encode(self, x: Tensor, mask: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """Particle features p (B, N, hidden), zero at padding, and the global g (B, G)."""
        x = zero_padding(x, mask)
        broadcast = cond[:, None, :].expand(-1, x.shape[1], -1)
        p = zero_padding(self.embed_particles(torch.cat([x, broadcast], dim=-1)), mask)
        g = self.embed_global(cond)
        for layer in self.layers:
            p, g = layer(p, g, mask, cond)
        return p, g

    def forward(self, x: Tensor, mask: Tensor, cond: Tensor) -> Tensor:
        """The per-particle head: (B, N, n_out), exactly 0 at padded slots (equivariant)."""
        p, g = self.encode(x, mask, cond)
        broadcast = g[:, None, :].expand(-1, p.shape[1], -1)
        return zero_padding(self.particle_head(torch.cat([p, broadcast], dim=-1)), mask)

    def score(self, x: Tensor, mask: Tensor, cond: Tensor) -> Tensor:
        """The pooled head: (B, pooled_out), invariant under permutations of the particles."""
        p, g = self.encode(x, mask, cond)
        return self.pooled_head(torch.cat([g, pool(p, mask)], dim=-1))
