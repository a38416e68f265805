"""EPiC-GAN: an adversarial family for particle clouds.

Buhmann, Kasieczka, Thaler, "EPiC-GAN: Equivariant Point Cloud Generation for Particle
Jets", SciPost Phys. 15 (2023) 130, arXiv 2301.08128.

Generator. Every real particle slot gets its own noise z_i ~ N(0, I) (``latent_dim``), the
jet a global latent z_g (``global_latent_dim``); an EPiC network (models/clouds/epic.py)
with z_g and the context as its jet-level condition maps the z_i to particle features.
Why both: the per-particle noise makes the particles differ (an equivariant map of equal
inputs gives equal outputs), the global latent lets them vary together from jet to jet
(a jet's mass, its prongs), and the global vector of the EPiC layers correlates them.

Discriminator. An EPiC network with the pooled (permutation-invariant) head: a score
per jet that cannot depend on the particles' order, only on the set.

Losses (``gan_loss``), D the discriminator's score, G(z) the generated cloud:
  lsgan (the paper's; Mao et al. 2017):
      L_D = ½ E_x[(D(x) − 1)²] + ½ E_z[D(G(z))²],   L_G = ½ E_z[(D(G(z)) − 1)²]
  nonsaturating (as genhep's tabular GAN, models/gan.py):
      L_D = −E_x[log σ(D(x))] − E_z[log(1 − σ(D(G(z))))],   L_G = −E_z[log σ(D(G(z)))]
The least-squares losses keep pushing fakes that D already calls real toward the
decision boundary, which steadies training. Adam with a low β₁ (``beta1``).

Fakes are generated with the real batch's masks: the multiplicity is part of the
condition, and real and fake jets of a pair then differ only in their particles.

Validation. Adversarial losses say little about sample quality, so ``validation_loss``
compares samples: the sliced 1-Wasserstein distance (models/base.py) between generated
and validation jets on permutation-invariant per-jet summaries (``jet_summaries``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genhep.hparams import EpicGANHparams
from genhep.models.base import adam, sliced_wasserstein
from genhep.models.clouds.base import CloudGenerator, Noise, split_cloud, zero_padding
from genhep.models.clouds.epic import EPiC


def jet_summaries(features: Tensor, mask: Tensor, c: Tensor) -> Tensor:
    """Per jet: the masked mean, standard deviation and maximum of each particle feature,
    and the context (B, 3F + C). Each is a function of the set, not of the order."""
    m = mask[..., None].to(features.dtype)
    count = m.sum(dim=1).clamp(min=1)
    mean = (features * m).sum(dim=1) / count
    var = (((features - mean[:, None]) ** 2) * m).sum(dim=1) / count
    lowest = torch.finfo(features.dtype).min
    top = torch.where(mask[..., None], features, lowest).amax(dim=1)
    top = torch.where(mask.any(dim=1, keepdim=True), top, 0.0)  # an empty jet: 0
    return torch.cat([mean, var.sqrt(), top, c], dim=-1)


class EpicGAN(CloudGenerator):
    family = "epic_gan"
    hparams_class = EpicGANHparams

    def __init__(self, n_particles: int, n_features: int, n_context: int, **hparams):
        super().__init__(n_particles, n_features, n_context, **hparams)
        hp = self.hparams
        sizes = (hp["hidden"], hp["global_dim"], hp["layers"])
        self.generator = EPiC(
            hp["latent_dim"], n_context + hp["global_latent_dim"], *sizes, n_out=n_features
        )
        self.discriminator = EPiC(
            n_features, n_context, *sizes, pooled_out=1, activation=lambda: nn.LeakyReLU(0.2)
        )

    def configure_optimizers(self, lr: float):
        betas = (self.hparams["beta1"], 0.999)  # low momentum steadies adversarial training
        return {
            "gen": adam(self.generator.parameters(), lr, betas=betas),
            "disc": adam(self.discriminator.parameters(), lr, betas=betas),
        }

    # --- the two networks -----------------------------------------------------------

    def draw_noise(self, n: int, device: torch.device) -> Noise:
        """The generator's input for n jets: per-particle z and the jet-level z_g."""
        hp = self.hparams
        z = torch.randn(n, self.n_particles, hp["latent_dim"], device=device)
        return {"z": z, "z_global": torch.randn(n, hp["global_latent_dim"], device=device)}

    def generator_output(self, noise: Noise, c: Tensor, mask: Tensor) -> Tensor:
        """Generated features (n, N, F) at the real slots of ``mask``, 0 at padded ones."""
        cond = torch.cat([c, noise["z_global"]], dim=-1)
        return self.generator(zero_padding(noise["z"], mask), mask, cond)

    def score(self, features: Tensor, mask: Tensor, c: Tensor) -> Tensor:
        """The discriminator's score per jet (B,) (a logit for ``nonsaturating``)."""
        return self.discriminator.score(features, mask, c).squeeze(-1)

    def critic(self, x: Tensor, c: Tensor) -> Tensor:
        """The discriminator's score per jet, for a batch in the cloud layout."""
        return self.score(*split_cloud(x), c)

    # --- losses ---------------------------------------------------------------------

    def _disc_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        if self.hparams["gan_loss"] == "lsgan":
            return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
        return F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))

    def _gen_loss(self, fake: Tensor) -> Tensor:
        if self.hparams["gan_loss"] == "lsgan":
            return 0.5 * ((fake - 1) ** 2).mean()
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def training_step(self, x, c, optimizers):
        self.check_batch(x)
        real, mask = split_cloud(x)
        fake = self.generator_output(self.draw_noise(len(x), x.device), c, mask)

        # Discriminator step (fakes detached: G is not updated here).
        loss_d = self._disc_loss(self.score(real, mask, c), self.score(fake.detach(), mask, c))
        optimizers["disc"].zero_grad(set_to_none=True)
        loss_d.backward()
        optimizers["disc"].step()

        # Generator step: make D call the fakes real.
        loss_g = self._gen_loss(self.score(fake, mask, c))
        optimizers["gen"].zero_grad(set_to_none=True)
        loss_g.backward()
        optimizers["gen"].step()
        return {"disc": loss_d.detach(), "gen": loss_g.detach()}

    # --- validation and sampling ----------------------------------------------------

    @torch.no_grad()
    def validation_loss(self, x, c):
        """Sliced W1 between the summaries of validation jets and of generated jets with
        the same masks and context; deterministic given the global seed (the Trainer
        fixes it for validation). Lower is better."""
        self.check_batch(x)
        real, mask = split_cloud(x)
        fake = self.generate(len(x), c, mask)
        return sliced_wasserstein(jet_summaries(real, mask, c), jet_summaries(fake, mask, c))

    @torch.no_grad()
    def generate(self, n: int, c: Tensor, mask: Tensor) -> Tensor:
        return self.generator_output(self.draw_noise(n, c.device), c, mask)
