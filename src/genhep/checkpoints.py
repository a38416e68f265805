"""Training checkpoints: what one holds, when it may be resumed, and its file.

A checkpoint holds everything a training run needs to continue bit-identically at the
batch it stopped before: the weights, the optimizers, the global RNG streams (CPU, and
CUDA on a CUDA device) and where the run stood (its history, kept epochs, epoch, batch,
epochs since the best one, time spent, the epoch's summed losses so far). It is resumed
only by the very run that wrote it: same family, hyperparameters, settings and data
(:func:`fingerprint`; the device may differ). The file is written atomically, never half.

:class:`genhep.training.Trainer` writes one every ``checkpoint_every`` epochs, after the
last one, on an early stop and on SIGTERM, and resumes from it when it starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from genhep.io.atomic import atomic_path
from genhep.models.base import Generator
from genhep.settings.training import TrainSettings

log = logging.getLogger("genhep")


class RunState(Protocol):
    """Where a training run stands (``genhep.training``'s run): what a checkpoint holds
    besides the weights, the optimizers' states and the RNG."""

    fingerprint: str
    optimizers: dict[str, torch.optim.Optimizer]
    history: list[dict[str, float]]
    best: list[dict[str, Any]]
    epoch: int
    batch: int
    bad_epochs: int
    elapsed: float
    partial: dict[str, Tensor]
    resumed_from: int | None

    def seconds(self) -> float: ...


def fingerprint(model: Generator, settings: TrainSettings, *tensors: Tensor | None) -> str:
    """What a checkpoint must match to be resumed: family, hyperparameters, settings, data."""
    h = hashlib.sha256()
    meta = {"family": model.family, "hparams": model.hparams, "settings": asdict(settings)}
    meta["settings"].pop("device")  # a run may resume on another device
    h.update(json.dumps(meta, sort_keys=True).encode())
    for t in tensors:
        if t is not None:
            h.update(t.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def snapshot(run: RunState, model: Generator, device: torch.device) -> dict[str, Any]:
    """A checkpoint's contents: enough to continue at (``run.epoch``, ``run.batch``)."""
    state = {
        "fingerprint": run.fingerprint,
        "model": model.state_dict(),
        "optimizers": {k: o.state_dict() for k, o in run.optimizers.items()},
        "rng_cpu": torch.get_rng_state(),
        "history": run.history,
        "best": run.best,
        "epoch": run.epoch,
        "batch": run.batch,
        "bad_epochs": run.bad_epochs,
        "elapsed": run.seconds(),
        "partial": {k: v.detach().cpu() for k, v in run.partial.items()},
    }
    if device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state()
    return state


def restore(state: dict[str, Any], run: RunState, model: Generator, device: torch.device) -> None:
    """Put a checkpoint's contents (:func:`snapshot`) back: the weights, the optimizers,
    the global RNG streams and where the run stood."""
    model.load_state_dict(state["model"])
    for name, opt in run.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    torch.set_rng_state(state["rng_cpu"])
    if device.type == "cuda" and "rng_cuda" in state:
        torch.cuda.set_rng_state(state["rng_cuda"])
    run.history, run.best = state["history"], state["best"]
    run.epoch, run.batch = state["epoch"], state["batch"]
    run.bad_epochs, run.elapsed = state["bad_epochs"], state["elapsed"]
    run.partial = {k: v.to(device) for k, v in state["partial"].items()}
    run.resumed_from = run.epoch


def save_checkpoint(
    path: str | os.PathLike | None, run: RunState, model: Generator, device: torch.device
) -> None:
    """Write the run's :func:`snapshot` to ``path``; nothing when there is no path."""
    if path is None:
        return
    state = snapshot(run, model, device)
    # Never a half-written checkpoint; the temporary's name is this process's own.
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike | None, expected: str) -> dict[str, Any] | None:
    """The checkpoint's contents, if there is one with the ``expected`` fingerprint."""
    if path is None or not Path(path).exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != expected:
        log.warning("ignoring checkpoint %s: it belongs to another run", path)
        return None
    return state


def resume_from_checkpoint(
    path: str | os.PathLike | None, run: RunState, model: Generator, device: torch.device
) -> None:
    """Continue from the checkpoint at ``path`` when there is one of this very run (same
    fingerprint): weights, optimizers, the global RNG streams and where it stood, so the
    rest of the run is bit-identical to an uninterrupted one."""
    state = load_checkpoint(path, run.fingerprint)
    if state is None:
        return
    restore(state, run, model, device)
    log.info("resumed from %s at epoch %d, batch %d", path, run.epoch, run.batch)
