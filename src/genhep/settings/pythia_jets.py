"""Typed settings of the Pythia jets source (``genhep.data.pythia_jets``; config section
``jets.pythia``): jets as particle clouds, one class and one shard per job.

The config holds the physics keys; the jet class and the shard are the job's (the
workflow's wildcards). This module imports nothing heavy: the Snakefile validates a
config with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from genhep.errors import GenhepError
from genhep.settings.base import Settings, job_value, setting

# JetNet's classes, in its order (genhep.clouds.JETNET_CLASSES; repeated here, checked
# equal in the tests, so that the Snakefile's settings import no numpy).
JET_CLASSES = ("g", "q", "t", "w", "z")
# Pythia's seed range: 0 would seed from the clock, above this it refuses.
MAX_PYTHIA_SEED = 900_000_000
# Shard k of the class at index i runs with seed + k + i * CLASS_SEED_STRIDE: the classes
# draw different random numbers from one config seed, and shards stay below the stride.
CLASS_SEED_STRIDE = 1_000_000


@dataclass(frozen=True)
class PythiaJetsSettings(Settings):
    """One shard of one jet class (``genhep.data.pythia_jets``)."""

    events: int = setting(10_000, "events generated per shard", minimum=1)
    seed: int = setting(
        1,
        "shard k of the class at index i of (g, q, t, w, z) runs with Pythia seed"
        f" seed + k + {CLASS_SEED_STRIDE} i (Pythia's seed 0 would mean the clock)",
        minimum=1,
    )
    sqrt_s: float = setting(13000.0, "GeV", exclusiveMinimum=0)
    pthat_min: float | None = setting(
        None,
        "PhaseSpace:pTHatMin (GeV); null: 0.9 jet_pt_min (a jet carries a few % less pT"
        " than its parton, so a lower threshold would waste events, a higher one deplete"
        " the window's lower edge)",
        exclusiveMinimum=0,
    )
    jet_r: float = setting(0.8, "anti-kT radius", exclusiveMinimum=0)
    jet_pt_min: float = setting(800.0, "GeV, lower edge of the jet pT window", minimum=0)
    jet_pt_max: float = setting(1600.0, "GeV, upper edge of the jet pT window", exclusiveMinimum=0)
    jet_max_abs_eta: float = setting(2.5, "jets kept within |η| < this", exclusiveMinimum=0)
    max_jets: int = setting(
        2, "the event's leading jets considered (then cut and matched)", minimum=1
    )
    massless: bool = setting(
        True,
        "take every particle massless (E = |p|) before clustering, so that a jet is the sum"
        " of what its cloud (Δη, Δφ, pT_rel) describes and JetNet's cloud mass equals the"
        " jet's; false keeps the hadron masses (the jet mass then lies some 5-10% above its"
        " cloud's)",
    )
    particle_max_abs_eta: float = setting(
        4.0, "visible final-state particles clustered within |η| < this", exclusiveMinimum=0
    )
    match_r: float | None = setting(
        None,
        "ΔR within which a jet must lie of a hard-process parton of its class (gluon,"
        " light quark, top, W, Z) to be kept; null: jet_r",
        exclusiveMinimum=0,
    )
    # The job's class and shard (the workflow's wildcards), not config keys.
    jet_class: str = job_value("the jet class: one of g, q, t, w, z (JetNet's)", example="g")
    shard: int = job_value("the shard index (its seed is seed + shard + class offset)", 0)

    KEY = "jets.pythia"

    def __post_init__(self) -> None:
        """What the schema cannot say: a known class, an ordered window, a seed Pythia
        takes."""
        if self.jet_class not in JET_CLASSES:
            raise GenhepError(
                f"{self.KEY}: jet_class must be one of {', '.join(JET_CLASSES)} (JetNet's "
                f"classes), not {self.jet_class!r}"
            )
        if not 0 <= self.jet_pt_min < self.jet_pt_max:
            raise GenhepError(
                f"config key {self.KEY}.jet_pt_max: need 0 <= jet_pt_min < jet_pt_max "
                f"(here {self.jet_pt_min:g}, {self.jet_pt_max:g} GeV)"
            )
        if not 0 <= self.shard < CLASS_SEED_STRIDE:
            raise GenhepError(
                f"{self.KEY}: shard must lie in [0, {CLASS_SEED_STRIDE}), not {self.shard}"
            )
        if not 1 <= self.pythia_seed <= MAX_PYTHIA_SEED:
            raise GenhepError(
                f"config key {self.KEY}.seed: seed + shard + class offset must lie in "
                f"[1, {MAX_PYTHIA_SEED}] (Pythia's range), not {self.pythia_seed}"
            )

    @property
    def pythia_seed(self) -> int:
        """The shard's Pythia seed: seed + shard + the class's offset."""
        return self.seed + self.shard + CLASS_SEED_STRIDE * JET_CLASSES.index(self.jet_class)

    @property
    def pthat(self) -> float:
        """PhaseSpace:pTHatMin in GeV (``pthat_min``, or 0.9 jet_pt_min)."""
        return self.pthat_min if self.pthat_min is not None else 0.9 * self.jet_pt_min

    @property
    def match_radius(self) -> float:
        """The parton-matching ΔR (``match_r``, or ``jet_r``)."""
        return self.match_r if self.match_r is not None else self.jet_r


# {dotted config section: its settings class}, added to the config schema.
SECTIONS: dict[str, type] = {"jets.pythia": PythiaJetsSettings}
