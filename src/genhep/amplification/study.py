"""Training the generator families on the camel back, and the per-seed study of one family.

Each family is trained on ``n_train`` = 100 points drawn from the truth
(``genhep.amplification.truth``) with its settings from ``genhep.amplification.params``,
for a fixed number of epochs (the last epoch is the model), and then generates up to 10⁶
points; per seed, its quantile MSE and amplification are set beside those of the
2-Gaussian fit and of the training sample itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genhep.amplification.params import StudySettings, resolve_params
from genhep.amplification.truth import (
    amplification_factor,
    camel_quantile_edges,
    camel_sample,
    expected_true_mse,
    fit_two_gaussians,
    quantile_mse,
    quantile_mse_curve,
    spread,
)
from genhep.errors import GenhepError
from genhep.io.atomic import write_text_atomic
from genhep.models import build_model
from genhep.models.augmented import Augmented
from genhep.models.base import Generator
from genhep.stage import Files, Stage
from genhep.training import Trainer, TrainSettings, seed_everything

log = logging.getLogger("genhep")


@dataclass
class CamelModel:
    """A trained generator with the standardization of its training data undone."""

    model: Generator
    shift: float
    scale: float
    train_seconds: float
    n_parameters: int

    @torch.no_grad()
    def sample(self, n: int, chunk: int = 20_000) -> np.ndarray:
        """n points, generated in chunks (bounded memory), from the global torch RNG."""
        self.model.eval()
        parts = [self.model.sample(min(chunk, n - i)) for i in range(0, n, chunk)]
        x = torch.cat(parts).reshape(-1).double().numpy()
        return x * self.scale + self.shift


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """Silence per-epoch INFO lines (thousands of tiny epochs per seed)."""
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def train_on_camel(
    family: str,
    x_train: np.ndarray,
    settings: dict[str, Any],
    hparams: dict[str, Any],
    seed: int,
    standardize: bool = True,
    augment: int = 0,
) -> CamelModel:
    """Train one family, unconditional, on 1-D points, for ``settings["epochs"]`` epochs;
    the model after the last epoch is the result.

    A fixed budget with no selection: there is no validation split (100 points are too
    few to spare), and no epoch is picked by its fit to the training points. The number
    of epochs is the regularization. (The Trainer still logs a per-epoch loss on the
    training points, quietened here; it picks nothing.)
    """
    x = np.asarray(x_train, dtype=float).ravel()
    shift, scale = (float(x.mean()), float(x.std())) if standardize else (0.0, 1.0)
    xt = torch.as_tensor((x - shift) / scale, dtype=torch.float32)[:, None]
    seed_everything(seed)
    model = build_model(family, 1 + augment, 0, hparams)
    if augment:
        model = Augmented(model, augment)
    epochs = int(settings["epochs"])
    ts = TrainSettings(
        epochs=epochs,
        batch_size=int(settings["batch_size"]),
        lr=float(settings["lr"]),
        patience=0,
        best_k=1,
        select_best=False,  # keep the last epoch: nothing is chosen by the training fit
        device="cpu",
        seed=seed,
        checkpoint_every=epochs,  # no checkpoint file; skip the per-epoch snapshots
    )
    start = time.perf_counter()
    with _quiet(log):
        Trainer(model, ts, checkpoint=None, progress=False).fit(xt, None, xt, None)
    return CamelModel(
        model=model.eval(),
        shift=shift,
        scale=scale,
        train_seconds=time.perf_counter() - start,
        n_parameters=sum(p.numel() for p in model.parameters()),
    )


def check_model(family: str, augment: int, hparams: dict[str, Any]) -> None:
    """The model hyperparameters build the family's model: an unknown one fails here,
    before any training."""
    try:
        build_model(family, 1 + augment, 0, hparams)  # unknown hyperparameters fail
    except GenhepError as err:
        raise GenhepError(f"amplification params: model: {err.__cause__ or err}") from None


def resolve_study(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """A family's study settings (``params.resolve_params``), with its model hyperparameters
    checked too: they must build the model, so an unknown one fails before any training."""
    p = resolve_params(family, params)
    check_model(family, p["augment"], p["model"])
    return p


def run_family(
    family: str,
    seeds: int | Sequence[int] | None = None,
    first_seed: int | None = None,
    n_train: int | None = None,
    n_generated: Sequence[int] | None = None,
    quantiles: int | None = None,
    train_settings: dict[str, Any] | None = None,
    hparams: dict[str, Any] | None = None,
    standardize: bool | None = None,
    augment: int | None = None,
    on_seed: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The study for one family (``study_family``) with these settings; one left out
    (None) takes the family's default (``params.resolve_params``; a count of seeds starts
    at 100, past the seeds 0-9 the defaults were tuned on)."""
    given: dict[str, Any] = {
        "seeds": seeds if seeds is None or isinstance(seeds, int) else list(seeds),
        "first_seed": first_seed,
        "n_train": n_train,
        "n_generated": None if n_generated is None else list(n_generated),
        "quantiles": quantiles,
        "standardize": standardize,
        "augment": augment,
    }
    given = {k: v for k, v in given.items() if v is not None}
    given |= {"train": train_settings or {}, "model": hparams or {}}
    settings = StudySettings(family=family, **resolve_study(family, given))
    return study_family(settings, on_seed)


def study_family(
    settings: StudySettings, on_seed: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """The study for one family, every seed with its own training sample and initialisation.

    Seed s draws its training sample from ``np.random.default_rng(s)`` whatever the family,
    so all families (and the fit) see the same points: a paired comparison. Per seed:
    quantile MSE vs N of the generated sample, of the fit's sample and of the training
    sample; amplifications from the largest N. ``on_seed`` gets each seed's record as it
    is done.
    """
    family, p = settings.family, settings.params()
    sizes, q = p["n_generated"], p["quantiles"]
    edges = camel_quantile_edges(q)
    start = time.perf_counter()
    per_seed = []
    for seed in p["seeds"]:
        x_train = camel_sample(p["n_train"], np.random.default_rng(seed))
        trained = train_on_camel(
            family, x_train, p["train"], p["model"], seed, p["standardize"], p["augment"]
        )
        t0 = time.perf_counter()
        torch.manual_seed(10_000 + seed)
        generated = trained.sample(sizes[-1])
        sample_seconds = time.perf_counter() - t0
        fit = fit_two_gaussians(x_train, seed)
        fitted = fit.sample(sizes[-1], np.random.default_rng([seed, 1]))
        record = {
            "seed": seed,
            "train_mse": quantile_mse(x_train, edges),
            "model_mse": quantile_mse_curve(generated, edges, sizes),
            "fit_mse": quantile_mse_curve(fitted, edges, sizes),
            "fit": vars(fit),
            "generated_finite": bool(np.isfinite(generated).all()),
            "train_seconds": trained.train_seconds,
            "sample_seconds": sample_seconds,
        }
        record["amplification"] = amplification_factor(record["model_mse"][-1], q, p["n_train"])
        record["fit_amplification"] = amplification_factor(record["fit_mse"][-1], q, p["n_train"])
        record["train_amplification"] = amplification_factor(record["train_mse"], q, p["n_train"])
        log.info(
            "%s seed %d: amplification %.2f (fit %.2f, training sample %.2f); "
            "trained in %.1f s, %d points sampled in %.1f s",
            family,
            seed,
            record["amplification"],
            record["fit_amplification"],
            record["train_amplification"],
            trained.train_seconds,
            sizes[-1],
            sample_seconds,
        )
        per_seed.append(record)
        if on_seed:
            on_seed(record)
    result = {
        "family": family,
        "settings": p,
        "n_parameters": trained.n_parameters,
        "n_train": p["n_train"],
        "quantiles": q,
        "n_generated": sizes,
        "quantile_edges": edges[1:-1].tolist(),
        "expected_true_mse": expected_true_mse(np.array(sizes), q).tolist(),
        "seeds": per_seed,
        "seconds": time.perf_counter() - start,
        "torch_threads": torch.get_num_threads(),
    }
    result["summary"] = {
        name: spread([r[key] for r in per_seed])
        for name, key in [
            ("model", "amplification"),
            ("fit", "fit_amplification"),
            ("train", "train_amplification"),
        ]
    }
    return result


def run(settings: StudySettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The amplification stage of one family: its study (``study_family``), written as JSON to
    ``outputs.result``. The model hyperparameters are checked first, before any training.
    The stage reads no file."""
    check_model(settings.family, settings.augment, settings.model)
    result = study_family(settings)
    write_text_atomic(outputs.result, json.dumps(result, indent=1) + "\n")
    s = result["summary"]
    log.info(
        "%s: amplification %.2f [%.2f, %.2f] over %d seeds (2-Gaussian fit %.2f, training "
        "sample %.2f), %.0f s",
        settings.family,
        s["model"]["median"],
        s["model"]["q16"],
        s["model"]["q84"],
        len(result["seeds"]),
        s["fit"]["median"],
        s["train"]["median"],
        result["seconds"],
    )
    return result


STAGE = Stage(
    "amplify",
    run,
    StudySettings,
    outputs=("result",),
    description="Amplification study for one family: train on 100 camel-back points per "
    "seed, measure how many true points its generated sample is worth (Butter et al., "
    "arXiv 2008.06545).",
)
