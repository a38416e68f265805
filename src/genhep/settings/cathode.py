"""Typed settings of the CATHODE branch (``cathode`` in the config).

The config sections (``SECTIONS``) they define: ``cathode`` itself (``SearchSettings``:
the signal region and the data partition), ``cathode.density`` (``DensitySettings``:
the density models' data split, preprocessing and device), ``cathode.interpolation``,
``cathode.classifier`` and ``cathode.evaluation``. The workflow's own keys (windows,
seeds, signal levels, families, methods), the toy and the density training (override
sections, merged by the rules) and the job resources stay in the YAML schema.

A stage that reads keys of several sections takes one object holding them as they lie in
the config (``PointDataSettings``: the ``cathode`` keys and a nested ``density``;
``TemplateSettings``: the SR's keys and a nested ``interpolation``), plus its job's own
values (window, seed, signal level, method): no config keys (``job_value``), the rule
passes them in the same ``--params``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from genhep.errors import GenhepError
from genhep.settings.base import (
    DEVICE_DESCRIPTION,
    DEVICE_PATTERN,
    Settings,
    job_value,
    section,
    setting,
)

TRANSFORMS = ["minmax", "logit", "standardize"]
CLASSIFIER_KINDS = ["mlp", "hgb"]  # genhep.cathode.classifier.CLASSIFIERS
COLUMN_NAME = {
    "type": "string",
    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
    "description": "a column name (letters, digits and _)",
}


# --- the signal region and the data partition (section ``cathode``) ---------------------


@dataclass(frozen=True)
class BackgroundSplit:
    """Shares of the background events: all three are given (no key has a default of its
    own: the section's default is the whole split), and they sum to 1
    (``genhep.config.check_fractions``, ``genhep.cathode.datasets.partition``)."""

    data: float = field(metadata={"schema": {"exclusiveMinimum": 0, "maximum": 1}})
    reference: float = field(metadata={"schema": {"minimum": 0, "maximum": 1}})
    test: float = field(metadata={"schema": {"exclusiveMinimum": 0, "maximum": 1}})


SPLIT_DEFAULT = {"data": 0.3, "reference": 0.5, "test": 0.2}


@dataclass(frozen=True)
class RegionSettings(Settings):
    """The signal region's geometry: ``sr_width`` around a window, its sidebands within
    ``mjj_range`` (``genhep.cathode.files.regions_for``)."""

    mjj_range: list[float] = setting(
        [0.0, 1000.0],
        "events outside [low, high) TeV are in neither the SR nor the sidebands",
        items={"type": "number", "minimum": 0},
        minItems=2,
        maxItems=2,
    )
    sr_width: float = setting(0.4, "signal-region width, TeV", exclusiveMinimum=0)


@dataclass(frozen=True)
class PartitionSettings(RegionSettings):
    """The SR and the seeded partition of the labelled events (``genhep.cathode.datasets``)."""

    features: list[str] = setting(
        ["mj_min", "delta_mj", "tau21_min", "tau21_max"],
        "the classifier's and the density model's features (mjj is the condition)",
        items=COLUMN_NAME,
        minItems=1,
    )
    # Required keys, no defaults of their own: a split that names two shares is refused
    # (the schema's `required`), not completed with a default third.
    background_split: BackgroundSplit = field(
        default_factory=lambda: BackgroundSplit(**SPLIT_DEFAULT),
        metadata={
            "schema": {
                "description": "shares of the background events, one seeded partition per seed",
                "default": dict(SPLIT_DEFAULT),
                "required": ["data", "reference", "test"],
            }
        },
    )
    signal_test_fraction: float = setting(
        0.5,
        "share of the signal events kept for the test set (the rest is the injection pool)",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    )


@dataclass(frozen=True)
class SearchSettings(PartitionSettings):
    """The settings of the ``cathode`` section: the SR, the partition, and CWoLa's short
    sidebands (the section's other keys choose the jobs: the workflow's)."""

    cwola_sideband_width: float = setting(
        0.2, "CWoLa's short sidebands either side of the SR, TeV", exclusiveMinimum=0
    )

    KEY = "cathode"


# --- the density models (section ``cathode.density``) -------------------------------------


@dataclass(frozen=True)
class DensityDataSettings(Settings):
    """What the density models' inputs depend on: their SB preprocessing and data split."""

    val_fraction: float = setting(
        0.2,
        "share of a region's data events held out of its density training (epoch choice)",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    )
    transforms: list[str] = setting(
        TRANSFORMS,
        "CATHODE's preprocessing, fitted on the SB training events",
        items={"type": "string", "enum": TRANSFORMS},
    )


@dataclass(frozen=True)
class DensitySettings(DensityDataSettings):
    """The ``cathode.density`` section's settings: the data's, and the device of every
    density job (training, template, ANODE). Its ``train`` and ``families`` (training
    overrides, merged by the rules) and the job resources are the YAML schema's."""

    device: str = setting("auto", DEVICE_DESCRIPTION, pattern=DEVICE_PATTERN)

    KEY = "cathode.density"


# --- the template (section ``cathode.interpolation``) ----------------------------------


@dataclass(frozen=True)
class InterpolationSettings(Settings):
    """The background template: how many events, and the SR mjj KDE they are drawn from."""

    oversampling: float = setting(4, "template events per SR data event", exclusiveMinimum=0)
    bandwidth: str | float = setting(
        "scott",
        "the SR mjj KDE's bandwidth (scipy bw_method - scott, silverman or a factor)",
        oneOf=[
            {"type": "string", "enum": ["scott", "silverman"]},
            {"type": "number", "exclusiveMinimum": 0},
        ],
    )

    KEY = "cathode.interpolation"


# --- the classifier (section ``cathode.classifier``) -------------------------------------


@dataclass(frozen=True)
class ClassifierSettings(Settings):
    """CATHODE's classifier: an MLP (3 × 64, ReLU), BCE with balanced class weights, Adam;
    or (``kind: hgb``) scikit-learn's HistGradientBoostingClassifier, the tree ensemble of
    Finke et al. (arXiv 2309.13111, "Back to the roots"), with the same runs, splits and
    class weights (``genhep.cathode.classifier``).

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
    kind: str = setting(
        "mlp",
        "the classifier: mlp (the keys above) or hgb (scikit-learn's"
        " HistGradientBoostingClassifier, the hgb_* keys, on the CPU whatever the device;"
        " early stopping on each run's epoch-choice slice; Finke et al., arXiv 2309.13111)",
        enum=CLASSIFIER_KINDS,
    )
    hgb_max_iter: int = setting(
        200, "hgb: at most this many boosting iterations (trees)", minimum=1
    )
    hgb_learning_rate: float = setting(0.1, "hgb: the boosting learning rate", exclusiveMinimum=0)
    hgb_max_leaf_nodes: int = setting(31, "hgb: leaves per tree at most", minimum=2)
    noise_features: int = setting(
        0,
        "uninformative standard-normal features appended to the classifier's inputs (the"
        " robustness study); each event's are a function of the event and the job's seed"
        " alone, the same for every method at a point; 0: the inputs as they are",
        minimum=0,
    )

    def __post_init__(self) -> None:
        if not 0 < self.check_fraction < self.val_fraction:
            raise GenhepError(
                f"config key cathode.classifier.check_fraction: {self.check_fraction} must be"
                f" above 0 and below val_fraction ({self.val_fraction}): the check slice is"
                " part of the held-out share, and the rest of it chooses the epochs"
            )
        if self.kind not in CLASSIFIER_KINDS:  # the schema's enum, for --params and tests
            raise GenhepError(
                f"config key cathode.classifier.kind: {self.kind!r} is not one of"
                f" {', '.join(CLASSIFIER_KINDS)}"
            )

    KEY = "cathode.classifier"


@dataclass(frozen=True)
class ClassifyJobSettings(ClassifierSettings):
    """One classifier job (``genhep.cathode.stage_classify``): the classifier's settings,
    the job's seed, its method's label, and for the idealized detector a cap on label 0."""

    method: str = job_value("the method's label (cathode_maf, idealized, ...)")
    label0_ratio: float | None = job_value(
        "cap label 0 at this multiple of label 1 (the idealized detector's true background"
        " is as large as CATHODE's template, cathode.interpolation.oversampling, no larger)",
        None,
    )

    KEY = "cathode.classifier"


# --- the evaluation (section ``cathode.evaluation``) -------------------------------------


@dataclass(frozen=True)
class CathodeEvaluationSettings(Settings):
    """SIC and rejection curves of a point (``genhep.cathode.stage_evaluate``), and the
    job's method labels, one per scores file, in the order the rule passes them."""

    min_background: int = setting(
        50,
        "the FPR floor is min_background / (background test events): working points"
        " resting on fewer background events are not used for max SIC",
        minimum=1,
    )
    tpr_points: int = setting(200, minimum=10)
    min_signal: int = setting(
        20,
        "SIC needs at least this many signal events in the SR's test set: a window with"
        " fewer (most windows of a scan) reports its background-only figures (null check,"
        " sculpting, bump hunt) and marks SIC and the supervised classifier not applicable",
        minimum=1,
    )
    methods: Sequence[str] = job_value("the label of each --scores file, in order", ())

    KEY = "cathode.evaluation"


# --- the stages that take keys of several sections ----------------------------------------


@dataclass(frozen=True)
class FixedSetsSettings(PartitionSettings):
    """The fixed sets of a (window, seed) (``genhep.cathode.stage_fixed``)."""

    window: float = job_value("the SR centre, TeV")
    seed: int = job_value("the partition's seed")

    KEY = "cathode"


@dataclass(frozen=True)
class PointDataSettings(SearchSettings):
    """The data sets of one point (``genhep.cathode.stage_data``): the ``cathode`` keys,
    the density models' data settings (``density``), the point."""

    density: DensityDataSettings = section(DensityDataSettings)
    window: float = job_value("the SR centre, TeV")
    seed: int = job_value("the partition's and the density splits' seed")
    signal: int = job_value("injected signal events")

    KEY = "cathode"


@dataclass(frozen=True)
class TemplateSettings(RegionSettings):
    """The background template of one point and family (``genhep.cathode.stage_template``):
    the SR, the ``interpolation`` section, the density device, the point."""

    interpolation: InterpolationSettings = section(InterpolationSettings)
    device: str = job_value("cathode.density.device", "auto")
    window: float = job_value("the SR centre, TeV")
    seed: int = job_value("the KDE's and the model's sampling seed")

    KEY = "cathode"


@dataclass(frozen=True)
class AnodeSettings(Settings):
    """ANODE's density-ratio scores (``genhep.cathode.stage_anode``): the models' device."""

    device: str = job_value("cathode.density.device", "auto")

    KEY = "cathode.density"


# {dotted config section: its settings class}, added to the config schema.
SECTIONS: dict[str, type] = {
    "cathode": SearchSettings,
    "cathode.density": DensitySettings,
    "cathode.interpolation": InterpolationSettings,
    "cathode.classifier": ClassifierSettings,
    "cathode.evaluation": CathodeEvaluationSettings,
}
