"""Typed settings of the amplification study shared by every family (config section
``amplification``). A family's tuned training settings and hyperparameters are
``genhep.amplification.params.STUDY_DEFAULTS``; which families run, and the job
resources, are the workflow's keys in the YAML schema."""

from __future__ import annotations

from dataclasses import dataclass

from genhep.settings.base import Settings, setting

# The per-family settings were tuned (and first reported) on seeds 0-9
# (genhep.amplification.params.TUNING_SEEDS); a seed count starts past them, here.
FIRST_UNTUNED_SEED = 100


@dataclass
class AmplificationSettings(Settings):
    """The study's shared settings (Butter et al., arXiv 2008.06545)."""

    seeds: int = setting(
        10,
        "repetitions, seeds first_seed .. first_seed + seeds - 1; seed s draws its own"
        " training sample and initialisation",
        minimum=1,
        maximum=100,
    )
    first_seed: int = setting(
        FIRST_UNTUNED_SEED,
        "the first seed; default 100, past seeds 0-9 on which the per-family settings"
        " (genhep.amplification.params.STUDY_DEFAULTS) were tuned",
        minimum=0,
    )
    n_train: int = setting(100, "training points per seed", minimum=10)
    n_generated: list[int] = setting(
        [100, 1000, 10000, 100000, 1000000],
        "generated sample sizes at which the quantile MSE is measured",
        items={"type": "integer", "minimum": 1},
        minItems=1,
    )
    quantiles: int = setting(10, "equal-probability bins Q", minimum=2)

    KEY = "amplification"


# {dotted config section: its settings class}, added to the config schema.
SECTIONS: dict[str, type] = {"amplification": AmplificationSettings}
