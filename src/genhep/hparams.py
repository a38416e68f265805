"""Each generator family's hyperparameters: names, types, defaults and allowed values.

One frozen dataclass per family, the single definition of its hyperparameters. The model
classes in ``genhep.models`` are built from them (``Generator.hparams_class``), and the
workflow checks a config against them at start-up. This module imports no torch, so
reading the Snakefile (a dry run, a cluster job re-reading it) does not load the ML stack.

A config's ``families.<name>.model`` section is validated by ``family_hparams(name,
section)``: an unknown key, a wrong type or a value out of range is a ``GenhepError``
that names the config key.
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from genhep.errors import GenhepError
from genhep.settings.base import hint_options


@dataclass(frozen=True)
class FamilyHparams:
    """Base of the families' hyperparameters: types and ranges checked on construction."""

    # field name -> (lowest allowed, whether the lowest itself is allowed); None: no bound
    minimum: ClassVar[dict[str, tuple[float, bool]]] = {}
    # field name -> the allowed values
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
    # The data the family takes: "table" (events x features) or "clouds" (jets as padded
    # particle clouds with a mask, genhep.models.clouds); the config check keeps each
    # family in the workflow branch of its kind.
    data_kind: ClassVar[str] = "table"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if not _has_type(value, hints[f.name]):
                kind = getattr(hints[f.name], "__name__", str(hints[f.name]))
                raise ValueError(f"{f.name} must be of type {kind}, not {value!r}")
            if f.name in self.choices and value not in self.choices[f.name]:
                allowed = ", ".join(map(str, self.choices[f.name]))
                raise ValueError(f"{f.name} must be one of {allowed}, not {value!r}")
            if f.name in self.minimum and value is not None:
                low, inclusive = self.minimum[f.name]
                if value < low or (value == low and not inclusive):
                    bound = ">=" if inclusive else ">"
                    raise ValueError(f"{f.name} must be {bound} {low}, not {value!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _has_type(value: Any, hint: Any) -> bool:
    """isinstance for the hints used here: int, float (an int is a float), str, bool, X | None."""
    for option in hint_options(hint):
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if option is str and isinstance(value, str):
            return True
    return False


_SIZES = {"hidden": (1, True), "layers": (1, True)}


@dataclass(frozen=True)
class GANHparams(FamilyHparams):
    """Non-saturating GAN: MLP generator and discriminator."""

    latent_dim: int = 8  # dimension of the generator's noise z
    hidden: int = 128  # units per hidden layer (both networks)
    layers: int = 3  # hidden layers (both networks)
    beta1: float = 0.5  # Adam's first-moment decay; low momentum steadies adversarial training

    minimum = {**_SIZES, "latent_dim": (1, True), "beta1": (0.0, True)}


@dataclass(frozen=True)
class WGANHparams(FamilyHparams):
    """WGAN-GP: MLP generator and critic, gradient penalty."""

    latent_dim: int = 8  # dimension of the generator's noise z
    hidden: int = 128  # units per hidden layer (both networks)
    layers: int = 3  # hidden layers (both networks)
    n_critic: int = 5  # critic steps per generator step
    gp_weight: float = 1.0  # λ of the gradient penalty (see models/wgan.py for why not 10)

    minimum = {**_SIZES, "latent_dim": (1, True), "n_critic": (1, True), "gp_weight": (0.0, True)}


@dataclass(frozen=True)
class VAEHparams(FamilyHparams):
    """Gaussian VAE: MLP encoder and decoder, learned per-feature decoder width."""

    latent_dim: int = 4  # dimension of the latent z
    hidden: int = 128  # units per hidden layer (encoder and decoder)
    layers: int = 3  # hidden layers (encoder and decoder)
    beta: float = 1.0  # weight of the KL term (1: the ELBO)

    minimum = {**_SIZES, "latent_dim": (1, True), "beta": (0.0, True)}


@dataclass(frozen=True)
class MAFHparams(FamilyHparams):
    """Masked autoregressive flow with affine transforms (zuko.flows.MAF)."""

    transforms: int = 5  # autoregressive transforms stacked
    hidden: int = 64  # units per hidden layer of each MADE
    layers: int = 2  # hidden layers of each MADE

    minimum = {**_SIZES, "transforms": (1, True)}


@dataclass(frozen=True)
class NSFHparams(FamilyHparams):
    """Neural spline flow: rational-quadratic spline transforms (zuko.flows.NSF)."""

    transforms: int = 4  # autoregressive transforms stacked
    hidden: int = 64  # units per hidden layer of each MADE
    layers: int = 2  # hidden layers of each MADE
    bins: int = 8  # spline bins per transform

    minimum = {**_SIZES, "transforms": (1, True), "bins": (1, True)}


@dataclass(frozen=True)
class DiffusionHparams(FamilyHparams):
    """DDPM-style diffusion (see models/diffusion.py for the schedules and samplers)."""

    hidden: int = 128  # units per hidden layer of the denoiser
    layers: int = 3  # hidden layers of the denoiser
    timesteps: int = 200  # T, the steps of the noising chain
    schedule: str = "cosine_zero_snr"  # cosine_zero_snr | cosine | linear
    prediction: str | None = None  # v | eps; None: v for cosine_zero_snr, eps for the others
    time_dim: int = 16  # width of the sinusoidal time embedding
    sampler: str = "ddpm"  # ddpm (all T steps) | ddim | dpm2m (sample_steps steps)
    sample_steps: int = 50  # DDIM / DPM-Solver++ steps (DDPM always takes all T)
    eta: float = 0.0  # DDIM stochasticity: 0 deterministic, 1 = DDPM's posterior noise
    clip_x0: float = 6.0  # DDIM, DPM-Solver++: clip x̂_0 (standardized data) to ±clip_x0; 0: off

    minimum = {
        **_SIZES,
        "timesteps": (1, True),
        "time_dim": (2, True),
        "sample_steps": (1, True),
        "eta": (0.0, True),
        "clip_x0": (0.0, True),
    }
    choices = {
        "schedule": ("cosine_zero_snr", "cosine", "linear"),
        "prediction": (None, "v", "eps"),
        "sampler": ("ddpm", "ddim", "dpm2m"),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule == "cosine_zero_snr" and self.prediction == "eps":
            raise ValueError(
                "schedule cosine_zero_snr needs prediction v (ε-prediction divides by √ᾱ_T = 0)"
            )
        if self.sampler != "ddpm" and self.sample_steps > self.timesteps:
            raise ValueError(
                f"sample_steps must be in 1..timesteps ({self.timesteps}), not {self.sample_steps}"
            )


@dataclass(frozen=True)
class CFMHparams(FamilyHparams):
    """Conditional flow matching with straight paths; sampled with a fixed-step ODE solver."""

    hidden: int = 128  # units per hidden layer of the velocity network
    layers: int = 3  # hidden layers of the velocity network
    time_dim: int = 16  # width of the sinusoidal time embedding
    sigma_min: float = 0.0  # Gaussian noise around the straight path
    ode_steps: int = 50  # solver steps from noise to data
    solver: str = "midpoint"  # torchdiffeq fixed-step method: euler | midpoint | rk4

    minimum = {
        **_SIZES,
        "time_dim": (2, True),
        "sigma_min": (0.0, True),
        "ode_steps": (1, True),
    }
    choices = {"solver": ("euler", "midpoint", "rk4")}


# --- jets as particle clouds (genhep.models.clouds) -----------------------------------

_EPIC_SIZES = {**_SIZES, "global_dim": (1, True)}


@dataclass(frozen=True)
class EpicFMHparams(FamilyHparams):
    """Flow matching on particle clouds with an EPiC backbone (models/clouds/fm.py)."""

    hidden: int = 64  # per-particle (local) feature width of the EPiC layers
    global_dim: int = 16  # width of the jet-level (global) vector of the EPiC layers
    layers: int = 3  # EPiC layers
    time_dim: int = 16  # width of the sinusoidal time embedding
    sigma_min: float = 0.0  # Gaussian noise around the straight path
    ode_steps: int = 25  # solver steps from noise to data
    solver: str = "midpoint"  # torchdiffeq fixed-step method: euler | midpoint | rk4

    data_kind = "clouds"
    minimum = {
        **_EPIC_SIZES,
        "time_dim": (2, True),
        "sigma_min": (0.0, True),
        "ode_steps": (1, True),
    }
    choices = {"solver": ("euler", "midpoint", "rk4")}


@dataclass(frozen=True)
class EpicJediHparams(FamilyHparams):
    """Diffusion on particle clouds with an EPiC backbone (models/clouds/jedi.py)."""

    hidden: int = 64  # per-particle (local) feature width of the EPiC layers
    global_dim: int = 16  # width of the jet-level (global) vector of the EPiC layers
    layers: int = 3  # EPiC layers
    time_dim: int = 16  # width of the sinusoidal time embedding
    timesteps: int = 200  # T, the steps of the noising chain
    schedule: str = "cosine_zero_snr"  # cosine_zero_snr | cosine | linear (models/diffusion.py)
    prediction: str | None = None  # v | eps; None: v for cosine_zero_snr, eps for the others
    sampler: str = "dpm2m"  # deterministic: ddim | dpm2m (DDIM with a 2nd-order x̂_0)
    sample_steps: int = 25  # network passes from noise to data
    clip_x0: float = 6.0  # clip x̂_0 (standardized features) to ±clip_x0 while sampling; 0: off

    data_kind = "clouds"
    minimum = {
        **_EPIC_SIZES,
        "time_dim": (2, True),
        "timesteps": (1, True),
        "sample_steps": (1, True),
        "clip_x0": (0.0, True),
    }
    choices = {
        "schedule": ("cosine_zero_snr", "cosine", "linear"),
        "prediction": (None, "v", "eps"),
        "sampler": ("ddim", "dpm2m"),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule == "cosine_zero_snr" and self.prediction == "eps":
            raise ValueError(
                "schedule cosine_zero_snr needs prediction v (ε-prediction divides by √ᾱ_T = 0)"
            )
        if self.sample_steps > self.timesteps:
            raise ValueError(
                f"sample_steps must be in 1..timesteps ({self.timesteps}), not {self.sample_steps}"
            )


@dataclass(frozen=True)
class EpicGANHparams(FamilyHparams):
    """EPiC-GAN: EPiC generator and discriminator (models/clouds/gan.py)."""

    hidden: int = 64  # per-particle (local) feature width of the EPiC layers (both networks)
    global_dim: int = 16  # width of the jet-level (global) vector (both networks)
    layers: int = 3  # EPiC layers (both networks)
    latent_dim: int = 8  # per-particle noise of the generator
    global_latent_dim: int = 8  # jet-level noise of the generator
    gan_loss: str = "lsgan"  # lsgan (least squares, as the EPiC-GAN paper) | nonsaturating
    beta1: float = 0.5  # Adam's first-moment decay; low momentum steadies adversarial training

    data_kind = "clouds"
    minimum = {
        **_EPIC_SIZES,
        "latent_dim": (1, True),
        "global_latent_dim": (1, True),
        "beta1": (0.0, True),
    }
    choices = {"gan_loss": ("lsgan", "nonsaturating")}


@dataclass(frozen=True)
class FamilySpec:
    """What the workflow needs to know of a family without building it."""

    hparams: type[FamilyHparams]
    has_log_prob: bool  # a density (exact or a bound): ANODE and held-out NLL need one
    # an invertible map x <-> z given the context (Generator.latent): LaCATHODE needs one
    has_latent_map: bool = False


FAMILY_SPECS: dict[str, FamilySpec] = {
    "gan": FamilySpec(GANHparams, has_log_prob=False),
    "wgan": FamilySpec(WGANHparams, has_log_prob=False),
    "vae": FamilySpec(VAEHparams, has_log_prob=True),
    "maf": FamilySpec(MAFHparams, has_log_prob=True, has_latent_map=True),
    "nsf": FamilySpec(NSFHparams, has_log_prob=True, has_latent_map=True),
    "diffusion": FamilySpec(DiffusionHparams, has_log_prob=False),
    "cfm": FamilySpec(CFMHparams, has_log_prob=False, has_latent_map=True),
    "epic_fm": FamilySpec(EpicFMHparams, has_log_prob=False),
    "epic_jedi": FamilySpec(EpicJediHparams, has_log_prob=False),
    "epic_gan": FamilySpec(EpicGANHparams, has_log_prob=False),
}
FAMILY_NAMES = tuple(FAMILY_SPECS)


def unknown_family(family: str, key: str) -> GenhepError:
    return GenhepError(
        f"invalid config: key {key}: unknown family {family!r} (known: {', '.join(FAMILY_NAMES)})"
    )


def family_data_kind(family: str, key: str | None = None) -> str:
    """The data a family takes: "table" or "clouds" (``FamilyHparams.data_kind``); an
    unknown family is an error naming ``key`` (default ``families.<family>``)."""
    if family not in FAMILY_SPECS:
        raise unknown_family(family, key or f"families.{family}")
    return FAMILY_SPECS[family].hparams.data_kind


def family_hparams(family: str, section: dict[str, Any], key: str | None = None) -> FamilyHparams:
    """A family's hyperparameters from a config section; errors name the config key
    (default ``families.<family>.model``)."""
    key = key or f"families.{family}.model"
    if family not in FAMILY_SPECS:
        raise unknown_family(family, key)
    cls = FAMILY_SPECS[family].hparams
    unknown = sorted(set(section) - {f.name for f in fields(cls)})
    if unknown:
        raise GenhepError(
            f"invalid config: key {key}: {family}: unknown hyperparameter(s) {unknown}"
        )
    try:
        return cls(**section)
    except ValueError as err:
        raise GenhepError(f"invalid config: key {key}: {family}: {err}") from None
