"""One training loop for every family.

What it takes care of, so that the families only say what their loss is:

* device: ``auto`` picks CUDA when present; the whole training and validation set are
  moved to the device once, and batches are index slices of them (no host copies);
* determinism: the epoch's shuffle comes from its own seeded generator, and the global
  RNG state is part of every checkpoint, so a resumed run continues the same stream;
* validation loss every epoch, best-epoch selection, keeping the k best epochs
  (CATHODE samples from its 10 best epochs), early stopping; or, with
  ``select_best=False``, a fixed budget that keeps the last epoch;
* checkpoints every N epochs and on SIGTERM (at the next batch boundary), resume from
  the last checkpoint when the run's fingerprint matches; one trainer per checkpoint
  (an exclusive lock next to it, ``genhep.locks``);
* optional cosine decay of the learning rate, a pure function of the step (so a resumed
  run continues it exactly), which lets large batches reach in few epochs the loss that
  small batches reach in many;
* TF32 matrix products on CUDA when asked (bf16 autocast with ``amp``);
* a NaN or infinite loss stops training with a clear error and leaves the last good
  checkpoint in place;
* a tqdm progress bar when interactive, plain log lines otherwise; a loss history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path
from genhep.locks import checkpoint_lock
from genhep.models.base import Generator

log = logging.getLogger("genhep")


@dataclass
class TrainSettings:
    epochs: int = 30
    batch_size: int = 512
    lr: float = 1e-3
    patience: int = 10  # epochs without improvement before stopping; 0 = never stop early
    checkpoint_every: int = 1  # epochs
    best_k: int = 1  # keep the k best epochs' weights
    # False: no selection and no early stopping; the model keeps the last epoch's weights
    # (validation loss is still computed and logged, but picks nothing).
    select_best: bool = True
    device: str = "auto"
    amp: bool = False  # bf16 autocast on CUDA; ignored on CPU
    tf32: bool = False  # TF32 matrix products on CUDA; ignored on CPU
    lr_schedule: str = "constant"  # constant | cosine (decays to lr_floor * lr at the end)
    lr_floor: float = 0.01
    seed: int = 1
    val_batch_size: int = 65_536

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TrainSettings:
        known = set(asdict(cls()))
        settings = cls(**{k: v for k, v in cfg.items() if k in known})
        if settings.lr_schedule not in LR_SCHEDULES:
            raise GenhepError(
                f"config key train.lr_schedule: {settings.lr_schedule!r} is not one of "
                + ", ".join(LR_SCHEDULES)
            )
        return settings

    def lr_at(self, step: int, total_steps: int) -> float:
        """The learning rate of optimisation step ``step`` (0-based) of ``total_steps``."""
        if self.lr_schedule == "constant" or total_steps <= 1:
            return self.lr
        progress = min(step / (total_steps - 1), 1.0)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * (self.lr_floor + (1 - self.lr_floor) * cosine)


LR_SCHEDULES = ("constant", "cosine")


# The config keys a device may come from, for a message that cannot tell which.
DEVICE_KEYS = "train.device, sample.device, cathode.density.device or cathode.classifier.device"


def resolve_device(name: str, key: str | None = None) -> torch.device:
    """``auto``: CUDA when present, else CPU; ``cuda`` (``cuda:N``) only with CUDA. ``key``
    names the config key the device came from in the error (default: every device key)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        where = f"config key {key}" if key else f"config key {DEVICE_KEYS}"
        raise GenhepError(f"{where}: {name!r} asked for, but no CUDA device is visible")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed torch's global RNG (CPU and CUDA); genhep's numpy code uses explicit Generators."""
    torch.manual_seed(seed)


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


class TrainingInterrupted(Exception):
    """SIGTERM arrived; a checkpoint was written and a rerun resumes from it."""


@dataclass
class TrainResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_val_loss: float
    best_states: list[dict[str, Any]]  # [{"epoch", "val_loss", "state"}], best first
    seconds: float
    events_per_second: float
    device: str
    stopped_early: bool
    resumed_from_epoch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _clone_state(model: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Trainer:
    def __init__(
        self,
        model: Generator,
        settings: TrainSettings,
        checkpoint: str | os.PathLike | None = None,
        progress: bool | None = None,
        on_step: Callable[[int], None] | None = None,
    ):
        self.model = model
        self.settings = settings
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.on_step = on_step  # test hook: called with the global step after each batch
        # The main training's train.device, or a CATHODE density model's device.
        self.device = resolve_device(settings.device, "train.device or cathode.density.device")
        self._stop_requested = False

    # --- signals --------------------------------------------------------------------

    def request_stop(self, *_: Any) -> None:
        """Stop at the next batch boundary, writing a checkpoint (the SIGTERM handler)."""
        self._stop_requested = True

    # --- checkpoints ----------------------------------------------------------------

    def _save_checkpoint(self, state: dict[str, Any]) -> None:
        if self.checkpoint is None:
            return
        # Never a half-written checkpoint; the temporary's name is this process's own.
        with atomic_path(self.checkpoint) as tmp:
            torch.save(state, tmp)

    def _load_checkpoint(self, expected: str) -> dict[str, Any] | None:
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != expected:
            log.warning("ignoring checkpoint %s: it belongs to another run", self.checkpoint)
            return None
        return state

    # --- the loop -------------------------------------------------------------------

    def fit(
        self, train_x: Tensor, train_c: Tensor | None, val_x: Tensor, val_c: Tensor | None
    ) -> TrainResult:
        """Train; with a checkpoint, only while holding its lock (``genhep.locks``): a
        second trainer on the same checkpoint raises GenhepError before touching it."""
        if self.checkpoint is None:
            return self._fit(train_x, train_c, val_x, val_c)
        with checkpoint_lock(self.checkpoint):
            return self._fit(train_x, train_c, val_x, val_c)

    def _fit(
        self, train_x: Tensor, train_c: Tensor | None, val_x: Tensor, val_c: Tensor | None
    ) -> TrainResult:
        s, model, dev = self.settings, self.model, self.device
        fp = fingerprint(model, s, train_x, train_c, val_x, val_c)
        model.to(dev)
        # Data live on the device for the whole run; batches are index slices.
        train_x, val_x = train_x.to(dev), val_x.to(dev)
        train_c = None if train_c is None else train_c.to(dev)
        val_c = None if val_c is None else val_c.to(dev)
        if dev.type == "cuda" and s.tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        optimizers = model.configure_optimizers(s.lr)
        n = len(train_x)
        batches_per_epoch = math.ceil(n / s.batch_size)
        total_steps = s.epochs * batches_per_epoch

        history: list[dict[str, float]] = []
        best: list[dict[str, Any]] = []
        epoch, batch, bad_epochs, elapsed = 0, 0, 0, 0.0
        partial: dict[str, Tensor] = {}
        resumed_from = None
        ckpt = self._load_checkpoint(fp)
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            for name, opt in optimizers.items():
                opt.load_state_dict(ckpt["optimizers"][name])
            torch.set_rng_state(ckpt["rng_cpu"])
            if dev.type == "cuda" and "rng_cuda" in ckpt:
                torch.cuda.set_rng_state(ckpt["rng_cuda"])
            history, best = ckpt["history"], ckpt["best"]
            epoch, batch, bad_epochs, elapsed = (
                ckpt["epoch"],
                ckpt["batch"],
                ckpt["bad_epochs"],
                ckpt["elapsed"],
            )
            partial = {k: v.to(dev) for k, v in ckpt["partial"].items()}
            resumed_from = epoch
            log.info("resumed from %s at epoch %d, batch %d", self.checkpoint, epoch, batch)

        def snapshot(next_epoch: int, next_batch: int) -> dict[str, Any]:
            state = {
                "fingerprint": fp,
                "model": model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                "rng_cpu": torch.get_rng_state(),
                "history": history,
                "best": best,
                "epoch": next_epoch,
                "batch": next_batch,
                "bad_epochs": bad_epochs,
                "elapsed": elapsed + time.perf_counter() - start,
                "partial": {k: v.detach().cpu() for k, v in partial.items()},
            }
            if dev.type == "cuda":
                state["rng_cuda"] = torch.cuda.get_rng_state()
            return state

        autocast = torch.autocast(
            device_type=dev.type, dtype=torch.bfloat16, enabled=s.amp and dev.type == "cuda"
        )
        previous = signal.signal(signal.SIGTERM, self.request_stop)
        start = time.perf_counter()
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=s.epochs, initial=epoch, desc=model.family, unit="epoch")
        stopped_early = False
        try:
            while epoch < s.epochs:
                # The shuffle of each epoch has its own seed: resuming needs no state for it.
                g = torch.Generator().manual_seed(s.seed * 100_003 + epoch)
                order = torch.randperm(n, generator=g).to(dev)
                model.train()
                while batch < batches_per_epoch:
                    idx = order[batch * s.batch_size : (batch + 1) * s.batch_size]
                    if s.lr_schedule != "constant":
                        lr = s.lr_at(epoch * batches_per_epoch + batch, total_steps)
                        for opt in optimizers.values():
                            for group in opt.param_groups:
                                group["lr"] = lr
                    with autocast:
                        losses = model.training_step(
                            train_x[idx], None if train_c is None else train_c[idx], optimizers
                        )
                    for k, v in losses.items():
                        partial[k] = partial.get(k, torch.zeros((), device=dev)) + v.float() * len(
                            idx
                        )
                    batch += 1
                    if self.on_step:
                        self.on_step(epoch * batches_per_epoch + batch)
                    if self._stop_requested:
                        self._save_checkpoint(snapshot(epoch, batch))
                        raise TrainingInterrupted(
                            f"stopped by SIGTERM at epoch {epoch}, batch {batch}; "
                            f"checkpoint {self.checkpoint} (a rerun resumes from it)"
                        )

                # One host sync per epoch: the epoch's mean losses and the validation loss.
                train_losses = {k: float(v) / n for k, v in partial.items()}
                val_loss = self._validate(val_x, val_c)
                record = {
                    "epoch": epoch,
                    **{f"train_{k}": v for k, v in train_losses.items()},
                    "val_loss": val_loss,
                }
                if not all(math.isfinite(v) for v in record.values()):
                    where = (
                        f" (last good checkpoint: {self.checkpoint})"
                        if self.checkpoint and self.checkpoint.exists()
                        else ""
                    )
                    raise GenhepError(
                        f"training {model.family} diverged at epoch {epoch}: "
                        + ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch")
                        + where
                        + "; try a smaller lr"
                    )
                record["seconds"] = elapsed + time.perf_counter() - start
                history.append(record)
                best.append({"epoch": epoch, "val_loss": val_loss, "state": _clone_state(model)})
                if s.select_best:
                    best = sorted(best, key=lambda b: b["val_loss"])[: s.best_k]
                else:  # the last epoch is the result, whatever its validation loss
                    best = best[-1:]
                bad_epochs = 0 if best[0]["epoch"] == epoch else bad_epochs + 1
                epoch, batch, partial = epoch + 1, 0, {}
                self._report(record, bar)
                stopped_early = s.patience > 0 and bad_epochs >= s.patience and epoch < s.epochs
                if epoch % s.checkpoint_every == 0 or epoch == s.epochs or stopped_early:
                    self._save_checkpoint(snapshot(epoch, 0))
                if stopped_early:
                    log.info("early stop: no improvement for %d epochs", bad_epochs)
                    break
        finally:
            signal.signal(signal.SIGTERM, previous)
            if bar is not None:
                bar.close()

        seconds = elapsed + time.perf_counter() - start
        model.load_state_dict(best[0]["state"])
        return TrainResult(
            history=history,
            best_epoch=best[0]["epoch"],
            best_val_loss=best[0]["val_loss"],
            best_states=best,
            seconds=seconds,
            events_per_second=n * len(history) / seconds if seconds > 0 else float("nan"),
            device=torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            stopped_early=stopped_early,
            resumed_from_epoch=resumed_from,
        )

    @torch.no_grad()
    def _validate(self, x: Tensor, c: Tensor | None) -> float:
        """Event-weighted mean of the validation loss over large batches.

        Families whose validation loss is stochastic (noise levels, time steps, samples)
        draw the same random numbers every epoch, from a fixed seed, so epochs compare
        fairly; the training RNG stream is restored afterwards, untouched.
        """
        self.model.eval()
        total = torch.zeros((), device=x.device)
        step = self.settings.val_batch_size
        devices = [x.device] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.settings.seed + 7919)
            for i in range(0, len(x), step):
                xb = x[i : i + step]
                cb = None if c is None else c[i : i + step]
                total += self.model.validation_loss(xb, cb).float() * len(xb)
        return float(total) / len(x)

    def _report(self, record: dict[str, float], bar) -> None:
        text = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
        if bar is not None:
            bar.set_postfix_str(text)
            bar.update(1)
        log.info(
            "%s epoch %d: %s (%.1f s)", self.model.family, record["epoch"], text, record["seconds"]
        )
