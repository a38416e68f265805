"""The generator families and their registry.

Adding a family: write a module with a ``Generator`` subclass (see ``base.py``) and add
it to ``FAMILIES`` below; the config, the workflow and the tests pick it up from here.
Families of jets as particle clouds (``genhep.models.clouds``) are in ``CLOUD_FAMILIES``:
``FAMILIES`` stays the event-table families that the tabular workflow trains. Both are
built, saved and loaded by the same functions, from the shape of one row of the data.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path
from genhep.models.base import Generator
from genhep.models.cfm import CFM
from genhep.models.clouds.fm import EpicFM
from genhep.models.clouds.gan import EpicGAN
from genhep.models.clouds.jedi import EpicJedi
from genhep.models.diffusion import Diffusion
from genhep.models.flow import MAF, NSF
from genhep.models.gan import GAN
from genhep.models.vae import VAE
from genhep.models.wgan import WGAN

FAMILIES: dict[str, type[Generator]] = {
    cls.family: cls for cls in (GAN, WGAN, VAE, MAF, NSF, Diffusion, CFM)
}
CLOUD_FAMILIES: dict[str, type[Generator]] = {
    cls.family: cls for cls in (EpicFM, EpicJedi, EpicGAN)
}
_REGISTRY = {**FAMILIES, **CLOUD_FAMILIES}


def build_model(
    family: str, shape: int | tuple[int, ...], n_context: int, hparams: dict[str, Any]
) -> Generator:
    """The model for data whose rows have ``shape``: an int is an event table's number of
    features; a tuple the full shape of one row, e.g. (particles, features + mask)."""
    if family not in _REGISTRY:
        raise GenhepError(f"unknown family {family!r} (known: {', '.join(_REGISTRY)})")
    shape = tuple(map(int, shape)) if isinstance(shape, tuple | list) else (int(shape),)
    try:
        return _REGISTRY[family].from_shape(shape, n_context, **hparams)
    except (TypeError, ValueError) as err:
        raise GenhepError(f"config key families.{family}: {err}") from err


def save_model(model: Generator, path: str | os.PathLike, **extra: Any) -> None:
    """Weights and everything needed to rebuild the model, loadable with weights_only."""
    payload = {
        "family": model.family,
        "n_features": model.n_features,
        "n_context": model.n_context,
        "data_shape": list(model.data_shape),
        "hparams": model.hparams,
        "state_dict": model.state_dict(),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[Generator, dict]:
    """The model (in eval mode) and the full saved payload."""
    payload = torch.load(path, map_location=device, weights_only=True)
    model = build_model(
        payload["family"], _data_shape(payload), payload["n_context"], payload["hparams"]
    )
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), payload


def _data_shape(payload: dict) -> tuple[int, ...]:
    """One row's shape; files saved before ``data_shape`` existed hold event tables."""
    return tuple(payload.get("data_shape", [payload["n_features"]]))


class EpochEnsemble(torch.nn.Module):
    """The k best epochs of one training as an equal-weight mixture (as CATHODE samples).

    ``sample`` draws, for every event independently, which member generates it (each with
    probability 1/k), so every prefix of a sample, such as the first events that the
    evaluation keeps, is a sample of the whole mixture. Event i keeps context row i
    whichever member draws it. ``log_prob`` is the mixture density, the log of the mean of
    the members' densities.
    """

    def __init__(self, members: list[Generator]):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    @torch.no_grad()
    def sample(self, n: int, c: torch.Tensor | None = None) -> torch.Tensor:
        if c is not None and len(c) != n:
            raise ValueError(f"sample({n}) needs {n} context rows, got {len(c)}")
        k = len(self.members)
        if k == 1:
            return self.members[0].sample(n, c)
        # Which member draws each event, from torch's (seeded) CPU generator, so the
        # assignment does not depend on the device the members run on.
        which = torch.randint(k, (n,))
        # Group the events by member (stable: each group keeps the events' order), let each
        # member draw its group in one call, then put every event back in its own row.
        order = torch.argsort(which, stable=True)
        sizes = torch.bincount(which, minlength=k).tolist()
        contexts = [None] * k if c is None else c[order.to(c.device)].split(sizes)
        parts = [
            member.sample(size, ctx)
            for member, ctx, size in zip(self.members, contexts, sizes, strict=True)
            if size > 0
        ]
        if not parts:  # n == 0
            return self.members[0].sample(0, c)
        grouped = torch.cat(parts)
        out = torch.empty_like(grouped)
        out[order.to(grouped.device)] = grouped
        return out

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        logs = torch.stack([m.log_prob(x, c) for m in self.members])
        return torch.logsumexp(logs, dim=0) - math.log(len(self.members))


def load_ensemble(path: str | os.PathLike, device: str | torch.device = "cpu") -> EpochEnsemble:
    """All epochs kept by training (``best_k``) as one mixture model."""
    _, payload = load_model(path, device)
    members = []
    for entry in payload.get("ensemble") or [{"state_dict": payload["state_dict"]}]:
        family, hp = payload["family"], payload["hparams"]
        member = build_model(family, _data_shape(payload), payload["n_context"], hp)
        member.load_state_dict(entry["state_dict"])
        members.append(member.to(device).eval())
    return EpochEnsemble(members)
