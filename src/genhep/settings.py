"""Typed settings of the training loop, of sampling and of CATHODE's classifier: the one
place where each of their defaults, types and ranges is written.

The config schema (``workflow/schemas/config.schema.yaml``) does not repeat them: its
``train``, ``families.*.train``, ``cathode.density.train``, ``sample`` and
``cathode.classifier`` sections get their properties from these dataclasses
(``schema_properties``) when the workflow loads the schema (``genhep.config.load_schema``).
A dataclass field says its JSON-schema constraints in its metadata (``minimum``, ``enum``,
``pattern``, ...).

``from_config`` is strict: an unknown key is an error that names it. The job resources
(``threads``, ``runtime``, ``mem_mb``) are the workflow's business, not a setting: the
rules strip them (``RESOURCE_KEYS``) before a stage sees its section.

This module imports no torch, so the Snakefile can validate a config without it.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from genhep.errors import GenhepError

# What a batch system is asked for; in the config next to the settings, never a setting.
RESOURCE_KEYS = ("threads", "runtime", "mem_mb")
DEVICE_PATTERN = "^(auto|cpu|cuda(:[0-9]+)?)$"
DEVICE_DESCRIPTION = "auto (CUDA if present), cpu, cuda or cuda:N"
LR_SCHEDULES = ("constant", "cosine")


def setting(default: Any, description: str | None = None, **schema: Any) -> Any:
    """A dataclass field with its JSON-schema constraints (and description) as metadata."""
    meta = dict(schema)
    if description:
        meta["description"] = description
    return field(default=default, metadata={"schema": meta})


@dataclass
class TrainSettings:
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

    @classmethod
    def from_config(cls, cfg: dict[str, Any], key: str = "train") -> TrainSettings:
        """From a config section (resources stripped); an unknown key is an error."""
        return _from_config(cls, cfg, key)

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
class ClassifierSettings:
    """CATHODE's classifier: an MLP (3 × 64, ReLU), BCE with balanced class weights, Adam.

    Each run trains on ``1 - val_fraction`` of the events. The rest is held out of its
    training and split in two: the *check slice* (``check_fraction`` of all events,
    the same for every run, never trained on and never used to choose epochs), which
    gives the null check's AUC, and the run's own epoch-choice slice (the remaining
    ``val_fraction - check_fraction``, drawn per run). The check slice comes out of the
    held-out share, so a run trains on as many events as without it.
    """

    hidden: int = setting(64, minimum=1)
    layers: int = setting(3, minimum=1)
    epochs: int = setting(100, minimum=1)
    batch_size: int = setting(128, minimum=1)
    lr: float = setting(1e-3, exclusiveMinimum=0)
    best_epochs: int = setting(
        10, "average the predictions of the epochs with the lowest val loss", minimum=1
    )
    runs: int = setting(
        10, "independent trainings (ensemble); each its own seed and val split", minimum=1
    )
    val_fraction: float = setting(
        0.5,
        "held out of each run's training (CATHODE's k-fold halves)",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    )
    check_fraction: float = setting(
        0.2,
        "share of the label-1 and label-0 events held out from every run (never trained on,"
        " never used to choose epochs) for the null check's AUC; taken out of val_fraction"
        " (must be below it), so each run still trains on 1 - val_fraction",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    )
    # The job's seed (the workflow's seed wildcard), not a config key.
    seed: int = field(default=0, metadata={"config": False})
    device: str = setting("auto", DEVICE_DESCRIPTION, pattern=DEVICE_PATTERN)

    def __post_init__(self) -> None:
        if not 0 < self.check_fraction < self.val_fraction:
            raise GenhepError(
                f"config key cathode.classifier.check_fraction: {self.check_fraction} must be"
                f" above 0 and below val_fraction ({self.val_fraction}): the check slice is"
                " part of the held-out share, and the rest of it chooses the epochs"
            )

    @classmethod
    def from_config(
        cls, cfg: dict[str, Any], key: str = "cathode.classifier"
    ) -> ClassifierSettings:
        """From the config's ``cathode.classifier`` section; unknown keys are an error."""
        return _from_config(cls, cfg, key)


@dataclass
class SampleSettings:
    """One sampling job's settings (``genhep.sample.sample_shard``); the number of shards
    is the workflow's (``sample.shards``), not the job's."""

    events_per_shard: int = setting(50_000, minimum=1)
    batch_size: int = setting(100_000, "events per model call; bounds memory", minimum=1)
    seed: int = setting(11, minimum=0)
    device: str = setting("auto", DEVICE_DESCRIPTION, pattern=DEVICE_PATTERN)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], key: str = "sample") -> SampleSettings:
        return _from_config(cls, cfg, key)


def _config_fields(cls: type) -> list:
    return [f for f in fields(cls) if f.metadata.get("config", True)]


def _from_config(cls: type, cfg: dict[str, Any], key: str) -> Any:
    """The settings in a config section: the job resources are passed over (the
    workflow's, not the stage's), any other unknown key is an error."""
    known = {f.name for f in _config_fields(cls)}
    unknown = sorted(set(cfg) - known - set(RESOURCE_KEYS))
    if unknown:
        raise GenhepError(f"config key {key}.{unknown[0]}: unknown setting")
    return cls(**{k: v for k, v in cfg.items() if k in known})


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def hint_options(hint: Any) -> tuple[Any, ...]:
    """The types a type hint allows: ``(int,)`` for ``int``, ``(str, NoneType)`` for
    ``str | None``."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return typing.get_args(hint) if union else (hint,)


def schema_properties(cls: type, defaults: bool = True) -> dict[str, dict[str, Any]]:
    """The JSON-schema ``properties`` of a settings dataclass's config keys: type, the
    field's constraints and, with ``defaults``, its default (an override section, such as
    a family's own ``train``, takes no defaults: what it leaves out comes from elsewhere)."""
    hints = typing.get_type_hints(cls)
    props = {}
    for f in _config_fields(cls):
        json_types = [_JSON_TYPES.get(k, "null") for k in hint_options(hints[f.name])]
        prop = {"type": json_types[0] if len(json_types) == 1 else json_types}
        prop.update(f.metadata.get("schema", {}))
        if defaults and f.default is not MISSING:
            prop["default"] = f.default
        props[f.name] = prop
    return props
