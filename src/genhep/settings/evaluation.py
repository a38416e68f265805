"""Typed settings of sampling and evaluation (``sample`` and ``evaluate`` in the config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genhep.settings.base import (
    DEVICE_DESCRIPTION,
    DEVICE_PATTERN,
    Settings,
    section,
    setting,
)

CLASSIFIERS = ("gbdt", "mlp")


def _bins() -> Any:
    """``evaluate.bins``: one definition, for the metrics and for the leaderboard's plot."""
    return setting(50, "histogram bins (plots, triangular discrimination)", minimum=2)


@dataclass
class SampleSettings(Settings):
    """One sampling job's settings (``genhep.sample.sample_shard``); the number of shards
    is the workflow's (``sample.shards``), not the job's."""

    events_per_shard: int = setting(50_000, minimum=1)
    batch_size: int = setting(100_000, "events per model call; bounds memory", minimum=1)
    seed: int = setting(11, minimum=0)
    device: str = setting("auto", DEVICE_DESCRIPTION, pattern=DEVICE_PATTERN)
    # The job's shard (the workflow's shard wildcard), not a config key.
    shard: int = field(default=0, metadata={"config": False})

    KEY = "sample"


@dataclass
class FpdSettings:
    """The Fréchet physics distance's batches (``genhep.metrics.fpd``)."""

    min_samples: int = setting(20_000, minimum=2)
    max_samples: int = setting(50_000, minimum=2)
    num_batches: int = setting(20, minimum=1)
    num_points: int = setting(10, minimum=2)


@dataclass
class KpdSettings:
    """The kernel physics distance's batches (``genhep.metrics.kpd``)."""

    num_batches: int = setting(10, minimum=2)
    batch_size: int = setting(5000, minimum=2)


@dataclass
class EvaluateSettings(Settings):
    """The metrics' settings (``genhep.evaluate``): the same for every family and for the
    truth-vs-truth row, so the rows compare."""

    bins: int = _bins()
    classifiers: list[str] = setting(
        list(CLASSIFIERS),
        "classifier two-sample tests to run (AUC; 0.5 = indistinguishable)",
        items={"type": "string", "enum": list(CLASSIFIERS)},
    )
    folds: int = setting(5, "k-fold, so every event is scored out of fold", minimum=2)
    max_classifier_events: int | None = setting(
        None, "events per class for the classifier tests (null = all)", minimum=100
    )
    fpd: FpdSettings = section(FpdSettings)
    kpd: KpdSettings = section(KpdSettings)
    seed: int = setting(0, minimum=0)

    KEY = "evaluate"


@dataclass
class LeaderboardSettings(Settings):
    """The leaderboard's settings: its comparison plot bins the features as each family's
    evaluation does (``evaluate.bins``)."""

    bins: int = _bins()

    KEY = "evaluate"


# {dotted config section: its settings class}, added to the config schema.
SECTIONS: dict[str, type] = {"sample": SampleSettings, "evaluate": EvaluateSettings}
