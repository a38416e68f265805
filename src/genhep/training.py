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
  the last checkpoint when the run's fingerprint matches (``genhep.checkpoints``); one
  trainer per checkpoint (an exclusive lock next to it, ``genhep.locks``);
* optional cosine decay of the learning rate, a pure function of the step (so a resumed
  run continues it exactly), which lets large batches reach in few epochs the loss that
  small batches reach in many;
* TF32 matrix products on CUDA when asked (bf16 autocast with ``amp``);
* a NaN or infinite loss stops training with a clear error and leaves the last good
  checkpoint in place;
* a tqdm progress bar when interactive, plain log lines otherwise; a loss history.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from genhep.checkpoints import fingerprint, resume_from_checkpoint, save_checkpoint
from genhep.errors import GenhepError, Interrupted
from genhep.locks import checkpoint_lock
from genhep.models.base import Generator
from genhep.settings.training import TrainSettings

log = logging.getLogger("genhep")


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


class TrainingInterrupted(Interrupted):
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


def _clone_state(model: torch.nn.Module) -> dict[str, Tensor]:
    """A copy of the weights that later steps leave alone (a kept epoch)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class _Run:
    """One call of ``Trainer.fit``: its data on the device, its optimizers, and where it
    stands (what a checkpoint holds besides the weights, the optimizers and the RNG:
    ``genhep.checkpoints.RunState``)."""

    fingerprint: str
    train_x: Tensor
    train_c: Tensor | None
    val_x: Tensor
    val_c: Tensor | None
    optimizers: dict[str, torch.optim.Optimizer]
    batches_per_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    best: list[dict[str, Any]] = field(default_factory=list)  # kept epochs, best first
    epoch: int = 0  # the next batch to train is (epoch, batch)
    batch: int = 0
    bad_epochs: int = 0  # epochs since the best one
    elapsed: float = 0.0  # seconds spent before this run resumed
    partial: dict[str, Tensor] = field(default_factory=dict)  # this epoch's summed losses
    resumed_from: int | None = None
    stopped_early: bool = False
    start: float = 0.0  # time.perf_counter() when this run's first epoch began

    @property
    def n(self) -> int:
        return len(self.train_x)

    def seconds(self) -> float:
        """Training time so far, earlier runs of a resumed training included."""
        return self.elapsed + time.perf_counter() - self.start


class Trainer:
    """Trains one model: see the module's docstring."""

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

    # --- the recipe -----------------------------------------------------------------

    def fit(
        self, train_x: Tensor, train_c: Tensor | None, val_x: Tensor, val_c: Tensor | None
    ) -> TrainResult:
        """Train on the training set, validating every epoch; the model ends with the
        weights of the best epoch (the last one with ``select_best=False``).

        With a checkpoint, only while holding its lock (``genhep.locks``): a second
        trainer on the same checkpoint raises GenhepError before touching it. Every
        training with a checkpoint comes through here, the stage's and the library's.
        """
        lock = checkpoint_lock(self.checkpoint) if self.checkpoint else contextlib.nullcontext()
        with lock:
            run = self._prepare(train_x, train_c, val_x, val_c)
            resume_from_checkpoint(self.checkpoint, run, self.model, self.device)
            self._train_epochs(run)
            return self._result(run)

    def _prepare(
        self, train_x: Tensor, train_c: Tensor | None, val_x: Tensor, val_c: Tensor | None
    ) -> _Run:
        """Fingerprint the run (on the data as given), then move the model and the data to
        the device once for the whole run (batches are index slices of them: no host
        copies), and make the optimizers."""
        s, model, dev = self.settings, self.model, self.device
        fp = fingerprint(model, s, train_x, train_c, val_x, val_c)
        model.to(dev)
        train_x, val_x = train_x.to(dev), val_x.to(dev)
        train_c = None if train_c is None else train_c.to(dev)
        val_c = None if val_c is None else val_c.to(dev)
        if dev.type == "cuda" and s.tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        optimizers = model.configure_optimizers(s.lr)
        batches_per_epoch = math.ceil(len(train_x) / s.batch_size)
        return _Run(fp, train_x, train_c, val_x, val_c, optimizers, batches_per_epoch)

    def _train_epochs(self, run: _Run) -> None:
        """The epochs left, each trained, validated, booked and reported; a checkpoint
        every ``checkpoint_every`` epochs, after the last one and on an early stop.
        SIGTERM asks for a stop at the next batch boundary (``_train_epoch``)."""
        s, dev = self.settings, self.device
        autocast = torch.autocast(
            device_type=dev.type, dtype=torch.bfloat16, enabled=s.amp and dev.type == "cuda"
        )
        previous = signal.signal(signal.SIGTERM, self.request_stop)
        run.start = time.perf_counter()
        bar = None
        if self.progress:
            bar = tqdm(total=s.epochs, initial=run.epoch, desc=self.model.family, unit="epoch")
        try:
            while run.epoch < s.epochs:
                self._train_epoch(run, autocast)
                record = self._epoch_record(run)
                self._book_epoch(run, record)
                self._report(record, bar)
                run.stopped_early = self._stops_early(run)
                if self._checkpoint_due(run):
                    save_checkpoint(self.checkpoint, run, self.model, self.device)
                if run.stopped_early:
                    log.info("early stop: no improvement for %d epochs", run.bad_epochs)
                    break
        finally:
            signal.signal(signal.SIGTERM, previous)
            if bar is not None:
                bar.close()

    def _result(self, run: _Run) -> TrainResult:
        """Load the best (or last) epoch's weights into the model and sum up the run."""
        seconds = run.seconds()
        dev = self.device
        self.model.load_state_dict(run.best[0]["state"])
        return TrainResult(
            history=run.history,
            best_epoch=run.best[0]["epoch"],
            best_val_loss=run.best[0]["val_loss"],
            best_states=run.best,
            seconds=seconds,
            events_per_second=run.n * len(run.history) / seconds if seconds > 0 else float("nan"),
            device=torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            stopped_early=run.stopped_early,
            resumed_from_epoch=run.resumed_from,
        )

    def _stops_early(self, run: _Run) -> bool:
        """``patience`` epochs without a better one, and epochs left to skip."""
        s = self.settings
        return s.patience > 0 and run.bad_epochs >= s.patience and run.epoch < s.epochs

    def _checkpoint_due(self, run: _Run) -> bool:
        """After every ``checkpoint_every`` epochs, the last one and an early stop."""
        s = self.settings
        return run.epoch % s.checkpoint_every == 0 or run.epoch == s.epochs or run.stopped_early

    # --- one epoch ------------------------------------------------------------------

    def _train_epoch(self, run: _Run, autocast: torch.autocast) -> None:
        """The batches of ``run.epoch`` from ``run.batch`` on (a resumed run starts
        mid-epoch), in an order that depends on the seed and the epoch only, so resuming
        needs no state for it. A requested stop ends it with a checkpoint."""
        s = self.settings
        g = torch.Generator().manual_seed(s.seed * 100_003 + run.epoch)
        order = torch.randperm(run.n, generator=g).to(self.device)
        self.model.train()
        while run.batch < run.batches_per_epoch:
            idx = order[run.batch * s.batch_size : (run.batch + 1) * s.batch_size]
            self._train_step(run, idx, autocast)
            run.batch += 1
            if self.on_step:
                self.on_step(run.epoch * run.batches_per_epoch + run.batch)
            if self._stop_requested:
                save_checkpoint(self.checkpoint, run, self.model, self.device)
                raise TrainingInterrupted(
                    f"stopped by SIGTERM at epoch {run.epoch}, batch {run.batch}; "
                    f"checkpoint {self.checkpoint} (a rerun resumes from it)"
                )

    def _train_step(self, run: _Run, idx: Tensor, autocast: torch.autocast) -> None:
        """One optimisation step on the events ``idx``, at the schedule's learning rate.
        Its losses are summed on the device (no host sync per batch)."""
        s = self.settings
        if s.lr_schedule != "constant":
            total_steps = s.epochs * run.batches_per_epoch
            lr = s.lr_at(run.epoch * run.batches_per_epoch + run.batch, total_steps)
            for opt in run.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = lr
        with autocast:
            x, c = run.train_x[idx], None if run.train_c is None else run.train_c[idx]
            losses = self.model.training_step(x, c, run.optimizers)
        for k, v in losses.items():
            zero = torch.zeros((), device=self.device)
            run.partial[k] = run.partial.get(k, zero) + v.float() * len(idx)

    def _epoch_record(self, run: _Run) -> dict[str, float]:
        """The finished epoch's mean training losses and validation loss (the epoch's one
        host sync); a NaN or infinite one stops training with a clear error, leaving the
        last good checkpoint in place."""
        train_losses = {k: float(v) / run.n for k, v in run.partial.items()}
        val_loss = self._validate(run.val_x, run.val_c)
        record = {
            "epoch": run.epoch,
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
                f"training {self.model.family} diverged at epoch {run.epoch}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch")
                + where
                + "; try a smaller lr"
            )
        record["seconds"] = run.seconds()
        return record

    def _book_epoch(self, run: _Run, record: dict[str, float]) -> None:
        """Add the finished epoch to the history and its weights to the kept epochs (the
        ``best_k`` best, or with ``select_best=False`` the last one whatever its loss),
        count the epochs since the best one (early stopping), and move on to the next."""
        s = self.settings
        run.history.append(record)
        state = _clone_state(self.model)
        run.best.append({"epoch": run.epoch, "val_loss": record["val_loss"], "state": state})
        if s.select_best:
            run.best = sorted(run.best, key=lambda b: b["val_loss"])[: s.best_k]
        else:  # the last epoch is the result, whatever its validation loss
            run.best = run.best[-1:]
        run.bad_epochs = 0 if run.best[0]["epoch"] == run.epoch else run.bad_epochs + 1
        run.epoch, run.batch, run.partial = run.epoch + 1, 0, {}

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
        """The epoch's losses on the progress bar (when there is one) and in the log."""
        text = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
        if bar is not None:
            bar.set_postfix_str(text)
            bar.update(1)
        log.info(
            "%s epoch %d: %s (%.1f s)", self.model.family, record["epoch"], text, record["seconds"]
        )

    # --- signals --------------------------------------------------------------------

    def request_stop(self, *_: Any) -> None:
        """Stop at the next batch boundary, writing a checkpoint (the SIGTERM handler)."""
        self._stop_requested = True
