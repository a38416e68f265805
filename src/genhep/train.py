"""The training stage: preprocessed splits in, a trained model and its records out."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import torch

from genhep.contracts import read_split_arrays
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.models import build_model, save_model
from genhep.plots import plot_loss_history
from genhep.settings.training import TrainJobSettings
from genhep.stage import Files, Stage
from genhep.training import Trainer, seed_everything

log = logging.getLogger("genhep")


def _tensors(path: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A split's features (events, ...) and context: an event table's rows or, with the
    same code, particle clouds (genhep.contracts.clouds); the family checks the shape."""
    split = read_split_arrays(path)
    x = torch.as_tensor(split["features"], dtype=torch.float32)
    c = split.get("context")
    return x, None if c is None else torch.as_tensor(c, dtype=torch.float32)


def history_csv(history: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for h in history for k in h))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    return out.getvalue()


def run(settings: TrainJobSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """Train one family on ``inputs.train`` (selecting epochs on ``inputs.val``) and write
    the model and its records (``outputs``: model, hparams, history, plot, info; the
    checkpoint ``outputs.checkpoint`` while it trains).

    One trainer per checkpoint: ``Trainer.fit`` holds the checkpoint's lock
    (``genhep.locks``) while it reads and writes the checkpoint, and a second trainer
    raises GenhepError there. The train stage (``genhep.cli.main``) takes the same lock
    before anything else and holds it until this returns, the outputs written and the
    checkpoint removed.
    """
    family, train_path, val_path = settings.family, inputs.train, inputs.val
    x, c = _tensors(train_path)
    xv, cv = _tensors(val_path)
    if len(x) == 0 or len(xv) == 0:
        raise GenhepError(f"{train_path if len(x) == 0 else val_path}: no events to train on")
    seed_everything(settings.train.seed)
    model = build_model(family, tuple(x.shape[1:]), 0 if c is None else c.shape[1], settings.model)
    n_params = sum(p.numel() for p in model.parameters())
    log.info(
        "%s: %d parameters, %d training and %d validation events", family, n_params, len(x), len(xv)
    )

    result = Trainer(model, settings.train, checkpoint=outputs.checkpoint).fit(x, c, xv, cv)
    model.cpu()
    ensemble = [
        {
            "epoch": b["epoch"],
            "val_loss": b["val_loss"],
            "state_dict": {k: v.cpu() for k, v in b["state"].items()},
        }
        for b in result.best_states
    ]
    info = {
        "family": family,
        "device": result.device,
        "torch": str(torch.__version__),
        "host": platform.node(),
        "threads": torch.get_num_threads(),
        "n_parameters": n_params,
        "n_train": len(x),
        "n_val": len(xv),
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "stopped_early": result.stopped_early,
        "resumed_from_epoch": result.resumed_from_epoch,
        "training_seconds": result.seconds,
        "train_events_per_second": result.events_per_second,
    }
    save_model(model, outputs.model, ensemble=ensemble, info=info)
    write_text_atomic(
        outputs.hparams,
        json.dumps(
            {"family": family, "model": model.hparams, "train": vars(settings.train)}, indent=2
        ),
    )
    write_text_atomic(outputs.history, history_csv(result.history))
    with atomic_path(outputs.plot) as tmp:
        plot_loss_history(result.history, tmp, family, result.best_epoch)
    write_text_atomic(outputs.info, json.dumps(info, indent=2))
    # finished: a checkpoint only marks unfinished runs
    Path(outputs.checkpoint).unlink(missing_ok=True)
    log.info(
        "%s: best epoch %d of %d, validation loss %.4f, %.0f s on %s (%.0f events/s)",
        family,
        info["best_epoch"],
        info["epochs_run"],
        info["best_val_loss"],
        info["training_seconds"],
        info["device"],
        info["train_events_per_second"],
    )
    return info


STAGE = Stage(
    "train",
    run,
    TrainJobSettings,
    inputs=("train", "val"),
    outputs=("model", "hparams", "history", "plot", "info", "checkpoint"),
    description="Train one generator family on the preprocessed splits.",
    gpu=True,
)
