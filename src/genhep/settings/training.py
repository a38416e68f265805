"""Typed settings of the training loop and of a training job: the one place where each
of their defaults, types and ranges is written.

The config schema's ``train``, ``families.*.train`` and ``cathode.density.train`` sections
get their properties from ``TrainSettings`` (``genhep.settings.sections.SECTIONS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from genhep.errors import GenhepError
from genhep.settings.base import DEVICE_DESCRIPTION, DEVICE_PATTERN, Settings, job_value, setting

LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainSettings(Settings):
    """The training loop's settings (``genhep.training.Trainer``)."""

    epochs: int = setting(30, minimum=1)
    batch_size: int = setting(512, minimum=1)
    lr: float = setting(1e-3, exclusiveMinimum=0)
    patience: int = setting(10, "early stopping; 0 = off", minimum=0)
    checkpoint_every: int = setting(1, "epochs between checkpoints", minimum=1)
    best_k: int = setting(1, "keep the k best epochs' weights", minimum=1)
    # False: no selection and no early stopping; the model keeps the last epoch's weights
    # (validation loss is still computed and logged, but picks nothing). The amplification
    # study's fixed budget; not a config key.
    select_best: bool = field(default=True, metadata={"config": False})
    device: str = setting("auto", DEVICE_DESCRIPTION, pattern=DEVICE_PATTERN)
    amp: bool = setting(False, "bf16 autocast on CUDA")
    tf32: bool = setting(False, "TF32 matrix products on CUDA")
    lr_schedule: str = setting(
        "constant",
        "cosine decays lr to lr_floor * lr over the run (large-batch training)",
        enum=list(LR_SCHEDULES),
    )
    lr_floor: float = setting(0.01, minimum=0, maximum=1)
    seed: int = setting(1, minimum=0)
    val_batch_size: int = setting(65_536, minimum=1)

    KEY = "train"

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise GenhepError(
                f"config key train.lr_schedule: {self.lr_schedule!r} is not one of "
                + ", ".join(LR_SCHEDULES)
            )

    def lr_at(self, step: int, total_steps: int) -> float:
        """The learning rate of optimisation step ``step`` (0-based) of ``total_steps``."""
        if self.lr_schedule == "constant" or total_steps <= 1:
            return self.lr
        progress = min(step / (total_steps - 1), 1.0)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * (self.lr_floor + (1 - self.lr_floor) * cosine)


@dataclass
class TrainJobSettings(Settings):
    """One training job's settings: its family, the training loop's settings (the shared
    ``train`` section under the family's own) and the family's hyperparameters (checked
    against ``genhep.hparams`` when the model is built)."""

    KEY = "train job"

    family: str = job_value("the family to train (the rule's family wildcard)")
    train: TrainSettings = field(default_factory=TrainSettings)
    model: dict[str, Any] = field(default_factory=dict)
