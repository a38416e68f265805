"""Typed settings of the data stages: event sources, ingestion and preprocessing.

Each class is both the config section's schema (``SECTIONS``) and the library's parameter
object: the toy generator takes a ``ToySettings``, a Pythia shard a ``PythiaSettings``,
ingestion a ``Selection``. Their defaults are written here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genhep.errors import GenhepError
from genhep.settings.base import Settings, from_section, section, setting

# --- the toy generator (genhep.data.toy) ------------------------------------------------


@dataclass(frozen=True)
class ToyBackground:
    """QCD dijets: the mjj spectrum, jet masses and τ21 (TeV)."""

    mjj_min: float = setting(2.5, "TeV, the spectrum's threshold", exclusiveMinimum=0)
    mjj_max: float = setting(7.0, "TeV, where the spectrum is truncated", exclusiveMinimum=0)
    p1: float = setting(10.0)
    p2: float = setting(4.5)
    p3: float = setting(0.0)
    mass_over_pt_median: float = setting(
        0.07, "median of the log-normal jet m/pT", exclusiveMinimum=0
    )
    mass_over_pt_width: float = setting(0.6, "sigma of ln(m/pT)", minimum=0)
    tau21_mean: float = setting(
        0.72, "mean τ21 at m/pT = 0", exclusiveMinimum=0, exclusiveMaximum=1
    )
    tau21_mass_slope: float = setting(1.2, "mean τ21 falls by this per unit m/pT")
    tau21_concentration: float = setting(12.0, "Beta a + b: larger is narrower", exclusiveMinimum=0)
    cos_theta_max: float = setting(
        0.8,
        "acceptance |cos θ*| <= this in the dijet rest frame",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    )


@dataclass(frozen=True)
class ToySignal:
    """The scalar resonance S → X Y → (qq)(qq) (TeV)."""

    mass: float = setting(3.5, "TeV, the scalar resonance (the LHCO W' mass)", exclusiveMinimum=0)
    mass_width: float = setting(
        0.07, "TeV, Gaussian width of mjj (natural width and resolution)", exclusiveMinimum=0
    )
    m_x: float = setting(0.5, "TeV", exclusiveMinimum=0)
    m_y: float = setting(0.1, "TeV", exclusiveMinimum=0)
    jet_mass_resolution: float = setting(0.06, "relative Gaussian smearing of m_X, m_Y", minimum=0)
    tau21_mean: float = setting(0.30, exclusiveMinimum=0, exclusiveMaximum=1)
    tau21_concentration: float = setting(12.0, exclusiveMinimum=0)


@dataclass(frozen=True)
class ToyExtraJets:
    """Soft extra jets beside the two hard ones (TeV)."""

    mean_count: float = setting(1.5, "Poisson mean of extra jets per event", minimum=0)
    pt_min: float = setting(0.03, "TeV", minimum=0)
    pt_scale: float = setting(0.08, "TeV, exponential slope above pt_min", exclusiveMinimum=0)
    max_abs_eta: float = setting(2.5, exclusiveMinimum=0)


@dataclass(frozen=True)
class ToySettings(Settings):
    """The LHCO-like toy generator (``genhep.data.toy``; config section ``toy``)."""

    n_events: int = setting(300_000, minimum=1)
    signal_fraction: float = setting(0.003, minimum=0, maximum=1)
    seed: int = setting(1, minimum=0)
    sqrt_s: float = setting(13.0, "TeV", exclusiveMinimum=0)
    rapidity_sigma: float = setting(0.5, "Gaussian rapidity of the dijet system", minimum=0)
    recoil_pt_scale: float = setting(
        0.03, "TeV, exponential transverse recoil of the dijet system", exclusiveMinimum=0
    )
    background: ToyBackground = section(ToyBackground)
    signal: ToySignal = section(ToySignal)
    extra_jets: ToyExtraJets = section(ToyExtraJets)

    def __post_init__(self) -> None:
        """What the schema cannot say: the mjj range is ordered and below √s."""
        if self.n_events <= 0:
            raise GenhepError("config key toy.n_events: must be positive")
        if not 0.0 <= self.signal_fraction <= 1.0:
            raise GenhepError("config key toy.signal_fraction: must lie in [0, 1]")
        bkg = self.background
        if not 0 < bkg.mjj_min < bkg.mjj_max < self.sqrt_s:
            key = "mjj_min" if not 0 < bkg.mjj_min < bkg.mjj_max else "mjj_max"
            raise GenhepError(
                f"config key toy.background.{key}: need 0 < mjj_min < mjj_max < sqrt_s "
                f"(here {bkg.mjj_min:g}, {bkg.mjj_max:g}, {self.sqrt_s:g})"
            )

    KEY = "toy"

    @property
    def n_signal(self) -> int:
        return round(self.n_events * self.signal_fraction)


# --- Pythia 8 + FastJet (genhep.data.pythia) -----------------------------------------------

PYTHIA_PROCESSES = ("qcd", "signal")


@dataclass(frozen=True)
class PythiaSettings(Settings):
    """One Pythia shard (``genhep.data.pythia``). The config's physics keys (section
    ``pythia``; how many shards, the signal's own shards and events, and the job memory
    are the workflow's keys beside them); the process and the shard are the job's."""

    events: int = setting(10_000, "QCD events per shard", minimum=1)
    seed: int = setting(1, "shard k runs with seed + k", minimum=0)
    sqrt_s: float = setting(13000.0, "GeV", exclusiveMinimum=0)
    pthat_min: float = setting(1200.0, "QCD pTHatMin (GeV)", minimum=0)
    m_resonance: float = setting(
        3500.0, "mass of the scalar resonance H (PDG 35; the LHCO W' mass), GeV", exclusiveMinimum=0
    )
    m_x: float = setting(500.0, "X mass (GeV)", exclusiveMinimum=0)
    m_y: float = setting(100.0, "Y mass (GeV)", exclusiveMinimum=0)
    jet_r: float = setting(1.0, "anti-kT radius", exclusiveMinimum=0)
    jet_min_pt: float = setting(200.0, "jet pT threshold (GeV)", minimum=0)
    max_jets: int = setting(4, "leading jets kept per event", minimum=2)
    particle_max_abs_eta: float = setting(4.0, exclusiveMinimum=0)
    # The job's process and shard (the workflow's wildcards), not config keys.
    process: str = field(default="qcd", metadata={"config": False})
    shard: int = field(default=0, metadata={"config": False})

    def __post_init__(self) -> None:
        if self.process not in PYTHIA_PROCESSES:
            raise GenhepError(
                f"pythia: process must be one of {PYTHIA_PROCESSES}, not {self.process!r}"
            )

    KEY = "pythia"


# --- ingestion (genhep.ingest) ---------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Event selection, energies in TeV; ``None`` switches a cut off.

    ``leading_jet_min_pt`` is a single-jet trigger: the leading jet (after the per-jet
    cuts) must have at least this pT. The LHC Olympics R&D sample was recorded with one
    at 1.2 TeV; with a trigger well above the generator's pTHat threshold, the trigger,
    not the generator cut, sets the shape of the mjj spectrum. Jet mappings only: a
    table of event features carries no jets to trigger on.
    """

    min_jet_pt: float = setting(0.0, "per-jet pT cut (TeV)", minimum=0)
    max_abs_eta: float | None = setting(None, exclusiveMinimum=0)
    leading_jet_min_pt: float | None = setting(
        None,
        "single-jet trigger (TeV): the leading jet after the per-jet cuts must have at"
        " least this pT (the LHCO R&D sample's trigger is 1.2); jet mappings only",
        exclusiveMinimum=0,
    )
    mjj_min: float | None = setting(None)
    mjj_max: float | None = setting(None)

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None, key: str = "ingest.selection") -> Selection:
        return from_section(cls, cfg or {}, key)

    def describe(self) -> str:
        parts = [f"two leading jets with pt >= {self.min_jet_pt} TeV"]
        if self.max_abs_eta is not None:
            parts[0] += f" and |eta| <= {self.max_abs_eta}"
        if self.leading_jet_min_pt is not None:
            parts.append(f"leading jet pt >= {self.leading_jet_min_pt} TeV (trigger)")
        if self.mjj_min is not None:
            parts.append(f"mjj >= {self.mjj_min} TeV")
        if self.mjj_max is not None:
            parts.append(f"mjj <= {self.mjj_max} TeV")
        parts.append("all features finite")
        return "; ".join(parts)


@dataclass(frozen=True)
class IngestSettings(Settings):
    """The ingest stage (``genhep.ingest.run``): how it reads (config section ``ingest``)
    and what it reads, the job's own values: either the rows of a dataset sheet
    (``datasets``: ``genhep.datasets.Dataset.as_dict()`` each), or a branch ``mapping``
    (a preset name or a mapping object; ``tree`` overrides its TTree) for the stage's
    input files."""

    chunk_size: int = setting(
        100_000, "events read per uproot.iterate step; bounds the memory of ingestion", minimum=1
    )
    selection: Selection = section(Selection)
    mapping: str | dict[str, Any] | None = field(default=None, metadata={"config": False})
    tree: str | None = field(default=None, metadata={"config": False})
    datasets: list[Any] | None = field(default=None, metadata={"config": False})

    KEY = "ingest"


# --- preprocessing (genhep.preprocess) ---------------------------------------------------

TRANSFORMS = ["minmax", "logit", "standardize"]
COLUMN_NAME = {
    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
    "description": "a column name (letters, digits and _)",
}


@dataclass(frozen=True)
class SplitFractions:
    """The shares of the train, val and test splits (they must sum to 1)."""

    train: float = setting(0.6, exclusiveMinimum=0, exclusiveMaximum=1)
    val: float = setting(0.2, exclusiveMinimum=0, exclusiveMaximum=1)
    test: float = setting(0.2, exclusiveMinimum=0, exclusiveMaximum=1)


@dataclass(frozen=True)
class PreprocessSettings(Settings):
    """The preprocess stage (``genhep.preprocess.run``; config section ``preprocess``)."""

    features: list[str] | None = setting(
        None,
        "columns to model; null means every column but the context and the label",
        items={"type": "string", **COLUMN_NAME},
    )
    context: str | None = setting(
        "mjj",
        "a column name (letters, digits and _): the conditioning column (null for"
        " unconditional models)",
        pattern=COLUMN_NAME["pattern"],
    )
    split: SplitFractions = section(SplitFractions)
    seed: int = setting(7, minimum=0)
    transforms: list[str] = setting(
        TRANSFORMS,
        "feature transforms, applied in order, fitted on the training split",
        items={"type": "string", "enum": TRANSFORMS},
    )
    context_transforms: list[str] = setting(
        ["standardize"], items={"type": "string", "enum": TRANSFORMS}
    )
    minmax_margin: float = setting(
        0.05,
        "min-max bounds are the training range widened by this fraction on each side",
        minimum=0,
    )
    bounds: dict[str, list] = setting(
        {},
        "physical range [lo, hi] of a column (null: open end), replacing the known"
        " features' (genhep.features.FEATURE_BOUNDS: masses and mjj >= 0, 0 <= tau21 <= 1;"
        " [null, null] lifts one). The min-max bounds stay inside it, so generated events"
        " do too; events outside it are dropped, events on it moved 1e-4 of the range inside",
        propertyNames=COLUMN_NAME,
        additionalProperties={
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"type": ["number", "null"]},
        },
    )
    # The evaluation's classifier k-fold (evaluate.folds; 0: no classifier test), the
    # job's: preprocessing refuses a test split too small for it. It changes no split, so
    # the rule keeps it out of what reruns the stage (workflow/rules/preprocess.smk).
    classifier_folds: int = field(default=0, metadata={"config": False})

    KEY = "preprocess"


# {dotted config section: its settings class}, added to the config schema.
SECTIONS: dict[str, type] = {
    "toy": ToySettings,
    "pythia": PythiaSettings,
    "ingest": IngestSettings,
    "preprocess": PreprocessSettings,
}
