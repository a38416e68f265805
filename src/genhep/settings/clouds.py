"""Typed settings of the jets-as-particle-clouds branch (config section ``jets``).

Each stage of the branch (genhep.clouds: ingest, preprocess, sample, evaluate) takes one
of these; the branch's workflow keys (which classes and families, the source, shards,
job resources) stay in the YAML schema. Training takes the shared
``genhep.settings.training.TrainSettings`` from the section ``jets.train``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genhep.settings.base import (
    DEVICE_DESCRIPTION,
    DEVICE_PATTERN,
    Settings,
    job_value,
    section,
    setting,
)
from genhep.settings.data import SplitFractions
from genhep.settings.evaluation import FpdSettings, KpdSettings
from genhep.settings.pythia_jets import SECTIONS as PYTHIA_JETS_SECTIONS
from genhep.settings.training import TrainSettings

JET_CONDITIONS = ["pt", "eta", "mass"]
CLOUD_FORMATS = ("root", "jetnet")


@dataclass(frozen=True)
class CloudIngestSettings(Settings):
    """The cloud ingest stage (``genhep.clouds.ingest``): section ``jets.ingest``; the
    class, the files' format and their branch mapping are the job's."""

    n_particles: int = job_value(
        "N: the leading constituents kept per jet (the workflow's jets.n_particles)", example=30
    )
    max_jets: int | None = setting(
        None, "jets kept per class, the first ones read (null: all)", minimum=1
    )
    chunk_size: int = setting(16_384, "jets read at a time; bounds ingestion's memory", minimum=1)
    jet_class: str = job_value("the class ingested (the rule's class wildcard)", example="g")
    format: str = field(default="root", metadata={"config": False})
    mapping: str | dict[str, Any] = field(default="genhep", metadata={"config": False})

    KEY = "jets.ingest"

    def __post_init__(self) -> None:
        if self.format not in CLOUD_FORMATS:
            raise ValueError(f"format must be one of {CLOUD_FORMATS}, not {self.format!r}")


@dataclass(frozen=True)
class CloudPreprocessSettings(Settings):
    """The cloud preprocess stage (``genhep.clouds.preprocess``): section ``jets.preprocess``."""

    condition: list[str] = setting(
        ["pt"],
        "jet features the generators are conditioned on (besides the multiplicity, which "
        "is always a condition, drawn at sampling from the training set given these)",
        items={"type": "string", "enum": JET_CONDITIONS},
        uniqueItems=True,
    )
    split: SplitFractions = section(SplitFractions)
    seed: int = setting(7, minimum=0)
    multiplicity_bins: int = setting(
        10,
        "quantile bins of the first condition in which the multiplicity is sampled",
        minimum=1,
    )

    KEY = "jets.preprocess"


@dataclass(frozen=True)
class CloudSampleSettings(Settings):
    """One cloud sampling job (``genhep.clouds.sample``): section ``jets.sample``."""

    events_per_shard: int = setting(20_000, "jets per shard", minimum=1)
    batch_size: int = setting(10_000, "jets per model call; bounds memory", minimum=1)
    seed: int = setting(11, minimum=0)
    device: str = setting("auto", DEVICE_DESCRIPTION, pattern=DEVICE_PATTERN)
    shard: int = field(default=0, metadata={"config": False})

    KEY = "jets.sample"


@dataclass(frozen=True)
class CloudClassifierSettings:
    """The classifier two-sample test on the clouds (``genhep.clouds.classifier``)."""

    folds: int = setting(5, minimum=2)
    epochs: int = setting(10, minimum=1)
    hidden: int = setting(64, minimum=1)
    max_jets: int = setting(20_000, "jets per side at most", minimum=10)
    seed: int = setting(3, minimum=0)


@dataclass(frozen=True)
class CloudEvaluateSettings(Settings):
    """The cloud evaluation (``genhep.clouds.evaluate``): JetNet's metrics, section
    ``jets.evaluate``."""

    num_eval_samples: int = setting(
        50_000, "jets drawn per bootstrap batch of W1M, W1P, W1EFP (JetNet's default)", minimum=10
    )
    num_batches: int = setting(5, "bootstrap batches (JetNet's default)", minimum=1)
    efp_jets: int = setting(
        50_000, "jets whose EFPs are computed per side (W1EFP, FPD, KPD)", minimum=10
    )
    fpd: FpdSettings = section(FpdSettings)
    kpd: KpdSettings = section(KpdSettings)
    classifier: CloudClassifierSettings = section(CloudClassifierSettings)
    image_bins: int = setting(25, "bins per axis of the average jet image", minimum=2)
    seed: int = setting(5, minimum=0)
    family: str = job_value("the family evaluated, or 'truth' (the pool half)", example="truth")
    jet_class: str = job_value(
        "the jets evaluated: the class, then N, as JetNet names its datasets (g30)", example="g30"
    )

    KEY = "jets.evaluate"


SECTIONS: dict[str, type] = {
    "jets.train": TrainSettings,
    "jets.ingest": CloudIngestSettings,
    "jets.preprocess": CloudPreprocessSettings,
    "jets.sample": CloudSampleSettings,
    "jets.evaluate": CloudEvaluateSettings,
    **PYTHIA_JETS_SECTIONS,
}
