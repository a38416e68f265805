"""Sample quality against sampler steps for the ODE (CFM) and diffusion samplers.

Fewer integration steps sample faster and drift from the trained model's distribution.
This measures the trade-off on models the workflow trained: for each step count it
draws events with the test split's mjj as context, times it, and scores the events
against the same test events with

* the classifier two-sample test (``genhep.metrics.classifier_auc``, gradient-boosted
  trees, 0.5 = indistinguishable), in the preprocessed space the models live in, and
* the Fréchet physics distance (``genhep.metrics.fpd``, features and mjj in physical
  units, as the leaderboard computes it; ×10⁵ in the table).

Diffusion rows: DDIM (with the model's η) and DPM-Solver++(2M) at each step count, and
DDPM with all T steps. Reference row: the validation split against the test split (what
finite samples give when nothing differs).

    python benchmarks/sampler_steps.py --results results --steps 2 5 10 20 50 100
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

from genhep.contracts import load_split
from genhep.metrics import classifier_auc, fpd
from genhep.models import load_model


def _split(path: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    split = load_split(path)
    rows = np.random.default_rng(seed).permutation(len(split["features"]))[:n]
    return split["features"][rows], split["context"][rows]


def _draw(model, context, **kwargs) -> tuple[np.ndarray, float]:
    c = torch.as_tensor(context, dtype=torch.float32, device=model.device)
    start = time.perf_counter()
    x = model.sample(len(c), c, **kwargs)
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return x.cpu().numpy(), time.perf_counter() - start


def run(
    results: Path,
    steps: list[int],
    events: int = 50_000,
    device: str = "cpu",
    seed: int = 0,
) -> dict:
    torch.manual_seed(seed)
    test = results / "preprocessed" / "test.h5"
    truth, context = _split(test, events, seed)
    preprocessor = load_split(test)["preprocessor"]

    def physical(x: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [preprocessor.features.inverse(x), preprocessor.context.inverse(context)]
        )

    def quality(x: np.ndarray) -> dict:
        if not np.isfinite(x).all():
            return {"auc": None, "fpd": None, "fpd_err": None}
        with warnings.catch_warnings():  # FPD warns that the samples are < 50k events
            warnings.simplefilter("ignore", RuntimeWarning)
            value, error = fpd(physical(truth), physical(x))
        return {"auc": classifier_auc(truth, x, seed=seed), "fpd": value, "fpd_err": error}

    rows = []

    def score(family, name, n_steps, **kwargs):
        x, seconds = _draw(model, context, **kwargs)
        rows.append(
            {
                "family": family,
                "sampler": name,
                "steps": n_steps,
                "events_per_s": len(x) / seconds,
                **quality(x),
            }
        )

    model, _ = load_model(results / "models" / "cfm" / "model.pt", device)
    solver = model.hparams["solver"]
    for n in steps:
        score("cfm", solver, n, steps=n)
    model, _ = load_model(results / "models" / "diffusion" / "model.pt", device)
    for sampler in ("ddim", "dpm2m"):
        for n in steps:
            if n <= model.hparams["timesteps"]:
                score("diffusion", sampler, n, sampler=sampler, steps=n)
    score("diffusion", "ddpm", model.hparams["timesteps"], sampler="ddpm")
    other, other_context = _split(results / "preprocessed" / "val.h5", events, seed + 1)
    floor = classifier_auc(truth, other, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        other_physical = np.column_stack(
            [preprocessor.features.inverse(other), preprocessor.context.inverse(other_context)]
        )
        floor_fpd = fpd(physical(truth), other_physical)[0]
    return {
        "device": device,
        "events": len(truth),
        "truth_vs_truth_auc": floor,
        "truth_vs_truth_fpd": floor_fpd,
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"Sample quality against steps ({result['events']:,} events, {result['device']}; "
        f"test vs validation split: AUC {result['truth_vs_truth_auc']:.3f}, "
        f"FPD {1e5 * result['truth_vs_truth_fpd']:.1f})",
        "",
        "| family | sampler | steps | events/s | classifier AUC | FPD (×10⁻⁵) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        if r["auc"] is None:
            quality = "diverged | diverged"
        else:
            quality = f"{r['auc']:.3f} | {1e5 * r['fpd']:.1f} ± {1e5 * r['fpd_err']:.1f}"
        lines.append(
            f"| {r['family']} | {r['sampler']} | {r['steps']} | {r['events_per_s']:,.0f} "
            f"| {quality} |"
        )
    return "\n".join(lines)
