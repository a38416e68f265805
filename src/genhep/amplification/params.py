"""The amplification study's settings, without torch: the workflow checks them at start-up.

Per-family defaults (STUDY_DEFAULTS), the seed rules, a family's settings resolved from
its defaults and the given ones (``resolve_params``; typed: ``StudySettings``, the settings
of the study's stage), and the config's 'amplification' section (``study_params``,
``check_amplification_config``).

Two rules keep the numbers honest:

* *Fixed budget, no selection.* Each family trains for its fixed number of epochs
  (STUDY_DEFAULTS) and the model after the last epoch is the result. There is no
  validation split (100 points are too few to spare), and picking the epoch whose loss
  on the 100 training points is lowest would reward a fit to those very points (earlier
  versions of the study did that: best epoch by training-point loss).
* *Untuned seeds.* STUDY_DEFAULTS were tuned on seeds 0-4 (diffusion 0-2) and first
  reported on seeds 0-9 (TUNING_SEEDS). A count of seeds therefore starts at
  ``first_seed`` = 100 (FIRST_UNTUNED_SEED): seeds 100, 101, ... were never looked at
  while tuning. Retune only on seeds 0-9.

The families are the keys of STUDY_DEFAULTS (a family without tuned settings cannot run
the study). The model hyperparameters are checked against each family's declared ones
(``genhep.hparams``), without building a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from genhep.errors import GenhepError
from genhep.hparams import family_hparams
from genhep.settings.amplification import FIRST_UNTUNED_SEED, AmplificationSettings
from genhep.settings.base import as_config, settings_part

# STUDY_DEFAULTS were tuned (and first reported) on these seeds; a seed count starts past
# them, at FIRST_UNTUNED_SEED, so the reported numbers come from seeds tuning never saw.
TUNING_SEEDS = range(10)

# Per-family settings for 100 training points, tuned on 2 CPU cores (~3-6 s per seed) on
# seeds 0-4 (in TUNING_SEEDS): small networks, a fixed number of epochs whose last epoch is
# the model (no early stopping, no best-epoch selection). Beside 'train' and
# 'model', a family may set 'standardize' (default true: train on (x − mean) / std of the
# training sample, undo it on the samples) and 'augment' (default 0: append that many
# N(0, 1) dimensions, drawn afresh at every step and dropped from the samples).
STUDY_DEFAULTS: dict[str, dict[str, Any]] = {
    # Adversarial: minibatches of 25 for more generator steps per epoch (4000 for the GAN).
    "gan": {
        "train": {"epochs": 1000, "batch_size": 25, "lr": 1e-3},
        "model": {"latent_dim": 4, "hidden": 32, "layers": 2},
    },
    # n_critic 2 and a weak penalty: with 5 critic steps per generator step (and λ = 1)
    # the generator gets too few updates in this budget to separate the modes.
    "wgan": {
        "train": {"epochs": 1000, "batch_size": 25, "lr": 1e-3},
        "model": {"latent_dim": 4, "hidden": 32, "layers": 2, "n_critic": 2, "gp_weight": 0.1},
    },
    # Full batch and β = 0.5: minibatches and β = 1 collapse the posterior (one broad mode).
    "vae": {
        "train": {"epochs": 2000, "batch_size": 100, "lr": 1e-3},
        "model": {"latent_dim": 1, "hidden": 32, "layers": 2, "beta": 0.5},
    },
    # 1-D MAF = a single Gaussian: one auxiliary dimension gives it the coupling it needs.
    # Few epochs: the flow overfits the 100 points (median 1.9 after 1000 epochs, 2.9
    # after 500, on seeds 0-4).
    "maf": {
        "train": {"epochs": 500, "batch_size": 100, "lr": 3e-3},
        "model": {"transforms": 5, "hidden": 32, "layers": 2},
        "augment": 1,
    },
    # In 1-D the spline parameters are free parameters (no network): 2 × 23 of them.
    "nsf": {
        "train": {"epochs": 500, "batch_size": 100, "lr": 1e-2},
        "model": {"transforms": 2, "hidden": 32, "layers": 2, "bins": 8},
    },
    # DDIM with η = 1 (stochastic, DDPM-like) in 20 steps: deterministic DDIM (η = 0)
    # amplified far less (median 0.2 vs 1.6 on seeds 0-2; its errors are never corrected
    # by fresh noise), and 100 DDPM steps cost 5× more on 10⁶ points. The schedule is
    # pinned to the ε-prediction cosine one these settings were tuned with: the family's
    # newer default (cosine_zero_snr, v-prediction) piled its samples up between the
    # modes on 3 of the 10 tuning seeds at this budget (median 0.70 [0.08, 1.50] on seeds
    # 0-9, last epoch, vs 1.01 [0.75, 1.43] with "cosine").
    "diffusion": {
        "train": {"epochs": 1000, "batch_size": 25, "lr": 3e-3},
        "model": {
            "schedule": "cosine",
            "hidden": 32,
            "layers": 2,
            "timesteps": 100,
            "sampler": "ddim",
            "sample_steps": 20,
            "eta": 1.0,
        },
    },
    # 20 midpoint steps (40 evaluations): 10 midpoint or 20 Euler steps amplified less
    # (median 0.9 and 0.6 vs 1.3 on seeds 0-4, same trained models).
    "cfm": {
        "train": {"epochs": 1000, "batch_size": 25, "lr": 3e-3},
        "model": {"hidden": 32, "layers": 2, "ode_steps": 20, "solver": "midpoint"},
    },
}

STUDY_KEYS = {"seeds", "first_seed", "n_train", "n_generated", "quantiles", "train", "model"}
STUDY_KEYS |= {"standardize", "augment"}
TRAIN_KEYS = {"epochs", "batch_size", "lr"}


def resolve_params(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """A family's study settings: its tuned defaults under ``params``; checks every key
    but the model hyperparameters (``study.resolve_study`` checks those too)."""
    if family not in STUDY_DEFAULTS:
        raise GenhepError(f"unknown family {family!r} (known: {', '.join(STUDY_DEFAULTS)})")
    if not isinstance(params, dict):
        raise GenhepError(f"--params must be a JSON object, not {type(params).__name__}")
    unknown = set(params) - STUDY_KEYS
    if unknown:
        raise GenhepError(f"amplification params: unknown key(s) {sorted(unknown)}")
    base = STUDY_DEFAULTS[family]
    p = {
        **as_config(AmplificationSettings()),  # the shared keys' defaults
        "standardize": base.get("standardize", True),
        "augment": base.get("augment", 0),
        **{k: v for k, v in params.items() if k not in ("train", "model")},
    }
    p["train"] = {**base["train"], **params.get("train", {})}
    p["model"] = {**base["model"], **params.get("model", {})}

    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise GenhepError(f"amplification params: {key} must be {what}, not {p[key]!r}")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    seeds = p["seeds"]
    need(
        (is_int(seeds) and 1 <= seeds <= 100)
        or (isinstance(seeds, list) and seeds and all(is_int(s) and s >= 0 for s in seeds)),
        "seeds",
        "a count 1..100 or a list of seeds >= 0",
    )
    need(is_int(p["first_seed"]) and p["first_seed"] >= 0, "first_seed", "an integer >= 0")
    need(is_int(p["n_train"]) and p["n_train"] >= 10, "n_train", "an integer >= 10")
    need(
        isinstance(p["n_generated"], list)
        and p["n_generated"]
        and all(is_int(n) and n >= 1 for n in p["n_generated"]),
        "n_generated",
        "a non-empty list of positive integers",
    )
    need(is_int(p["quantiles"]) and p["quantiles"] >= 2, "quantiles", "an integer >= 2")
    need(isinstance(p["standardize"], bool), "standardize", "true or false")
    need(is_int(p["augment"]) and p["augment"] >= 0, "augment", "an integer >= 0")
    bad = set(p["train"]) - TRAIN_KEYS
    if bad:
        raise GenhepError(f"amplification params: train: unknown setting(s) {sorted(bad)}")
    p["n_generated"] = sorted(set(p["n_generated"]))
    p["seeds"] = seed_list(p["seeds"], p["first_seed"])  # the results record the seeds run
    return p


@dataclass(frozen=True)
class StudySettings:
    """One family's study (the ``amplify`` stage's settings), resolved: the config's
    settings for it (``study_params``) over the family's tuned defaults, checked, the
    seeds as the list they mean (``resolve_params``). The family is the job's (the
    workflow's family wildcard), not a config key."""

    family: str = field(metadata={"config": False})
    seeds: list[int]
    first_seed: int
    n_train: int
    n_generated: list[int]
    quantiles: int
    standardize: bool
    augment: int
    train: dict[str, Any]
    model: dict[str, Any]

    @classmethod
    def from_config(cls, cfg: dict[str, Any], key: str = "amplification params") -> StudySettings:
        """From ``{"family": ..., <the family's settings>}``: keys left out take the
        family's defaults; an unknown key is an error that names it. The model
        hyperparameters are checked when the model is built (``study.check_model``)."""
        if not isinstance(cfg, dict):
            raise GenhepError(f"{key}: expected a mapping, got {cfg!r}")
        params = dict(cfg)
        family = params.pop("family", None)
        if family is None:
            raise GenhepError(f"{key}: no family given")
        return cls(family=family, **resolve_params(family, params))

    def params(self) -> dict[str, Any]:
        """The resolved settings without the family, in ``resolve_params``' order (the
        results record them)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "family"}


def seed_list(seeds: int | Sequence[int], first_seed: int = FIRST_UNTUNED_SEED) -> list[int]:
    """A count n means seeds first_seed..first_seed + n − 1 (default 100..: past the tuning
    seeds 0-9); a list is taken as it is."""
    if isinstance(seeds, int):
        return list(range(first_seed, first_seed + seeds))
    return list(seeds)


def study_params(section: dict[str, Any], family: str) -> dict[str, Any]:
    """A family's settings from the config's 'amplification' section: the shared ones with
    its own 'overrides' on top; keys left out take the tuned STUDY_DEFAULTS later."""
    own = section.get("overrides", {}).get(family, {})
    params = settings_part(AmplificationSettings, section)
    params.update({k: v for k, v in own.items() if k != "train"})
    params.setdefault("model", {})
    params["train"] = {**section.get("train", {}), **own.get("train", {})}
    return params


def check_amplification_config(section: dict[str, Any]) -> None:
    """Start-up check of the config's 'amplification' section: every family's merged
    settings must resolve and its model hyperparameters must be the family's declared ones
    (names the key), so a typo fails before any job runs, without torch."""
    for i, family in enumerate(section.get("families", [])):
        if family not in STUDY_DEFAULTS:
            raise GenhepError(
                f"invalid config: key amplification.families[{i}]: unknown family {family!r} "
                f"(known: {', '.join(STUDY_DEFAULTS)})"
            )
    for family in set(section.get("families", [])) | set(section.get("overrides", {})):
        try:
            model = resolve_params(family, study_params(section, family))["model"]
        except GenhepError as err:
            raise GenhepError(
                f"invalid config: key amplification.overrides.{family}: {err}"
            ) from None
        # The family's declared hyperparameters (genhep.hparams): no model is built.
        family_hparams(family, model, f"amplification.overrides.{family}.model")
