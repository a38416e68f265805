"""GAN with the non-saturating generator loss (Goodfellow et al. 2014).

A generator G maps noise z ~ N(0, I) and the context c to an event; a discriminator D
outputs the logit of "this event is real". With σ the sigmoid:

    discriminator:  L_D = −E_x[log σ(D(x, c))] − E_z[log(1 − σ(D(G(z, c), c)))]
    generator:      L_G = −E_z[log σ(D(G(z, c), c))]      (non-saturating form)

The non-saturating L_G has strong gradients early on, when D easily spots fakes; the
minimax form log(1 − σ(D(G(z)))) would have vanishing ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genhep.hparams import GANHparams
from genhep.models.base import Generator, adam, mlp, sliced_wasserstein, with_context


class GAN(Generator):
    family = "gan"
    hparams_class = GANHparams

    def __init__(self, n_features: int, n_context: int = 0, **hparams):
        super().__init__(n_features, n_context, **hparams)
        hp = self.hparams
        self.generator = mlp(hp["latent_dim"] + n_context, n_features, hp["hidden"], hp["layers"])
        self.discriminator = mlp(
            n_features + n_context,
            1,
            hp["hidden"],
            hp["layers"],
            activation=lambda: nn.LeakyReLU(0.2),
        )

    def configure_optimizers(self, lr: float):
        betas = (self.hparams["beta1"], 0.999)  # low momentum steadies adversarial training
        return {
            "gen": adam(self.generator.parameters(), lr, betas=betas),
            "disc": adam(self.discriminator.parameters(), lr, betas=betas),
        }

    def critic(self, x: Tensor, c: Tensor | None) -> Tensor:
        return self.discriminator(with_context(x, c)).squeeze(-1)

    def generate(self, z: Tensor, c: Tensor | None) -> Tensor:
        return self.generator(with_context(z, c))

    def training_step(self, x, c, optimizers):
        z = torch.randn(len(x), self.hparams["latent_dim"], device=x.device)
        fake = self.generate(z, c)

        # Discriminator step: real -> 1, fake -> 0 (fakes detached: G is not updated here).
        real_logit, fake_logit = self.critic(x, c), self.critic(fake.detach(), c)
        loss_d = F.binary_cross_entropy_with_logits(
            real_logit, torch.ones_like(real_logit)
        ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        optimizers["disc"].zero_grad(set_to_none=True)
        loss_d.backward()
        optimizers["disc"].step()

        # Generator step, non-saturating: make D call the fakes real.
        fake_logit = self.critic(fake, c)
        loss_g = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        optimizers["gen"].zero_grad(set_to_none=True)
        loss_g.backward()
        optimizers["gen"].step()
        return {"disc": loss_d.detach(), "gen": loss_g.detach()}

    @torch.no_grad()
    def validation_loss(self, x, c):
        # Adversarial losses do not measure sample quality; compare samples instead.
        fake = self.sample(len(x), c)
        return sliced_wasserstein(with_context(x, c), with_context(fake, c))

    @torch.no_grad()
    def sample(self, n, c=None):
        c = self._context_for(n, c)
        z = torch.randn(n, self.hparams["latent_dim"], device=self.device)
        return self.generate(z, c)
