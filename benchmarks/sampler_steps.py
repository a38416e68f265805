"""Sample quality against sampler steps for the ODE (CFM) and DDIM samplers.

Fewer integration steps sample faster and drift from the trained model's distribution.
This measures the trade-off on models the workflow trained: for each step count it
draws events with the test split's mjj as context, times it, and scores the events with
the classifier two-sample test (``genhep.metrics.classifier_auc``, gradient-boosted
trees, 0.5 = indistinguishable) against the test split, in the preprocessed space the
models live in. Reference rows: DDPM with all T steps, and the test split against the
validation split (the AUC that finite samples give when nothing differs).

    python benchmarks/sampler_steps.py --results results --steps 2 5 10 20 50 100
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from genhep.metrics import classifier_auc
from genhep.models import load_model
from genhep.preprocess import load_split


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
    truth, context = _split(results / "preprocessed" / "test.h5", events, seed)
    rows = []

    def score(family, name, n_steps, **kwargs):
        x, seconds = _draw(model, context, **kwargs)
        rows.append(
            {
                "family": family,
                "sampler": name,
                "steps": n_steps,
                "events_per_s": len(x) / seconds,
                "auc": classifier_auc(truth, x, seed=seed) if np.isfinite(x).all() else None,
            }
        )

    model, _ = load_model(results / "models" / "cfm" / "model.pt", device)
    solver = model.hparams["solver"]
    for n in steps:
        score("cfm", solver, n, steps=n)
    model, _ = load_model(results / "models" / "diffusion" / "model.pt", device)
    for n in steps:
        if n <= model.hparams["timesteps"]:
            score("diffusion", "ddim", n, sampler="ddim", steps=n)
    score("diffusion", "ddpm", model.hparams["timesteps"], sampler="ddpm")
    other, _ = _split(results / "preprocessed" / "val.h5", events, seed + 1)
    floor = classifier_auc(truth, other, seed=seed)
    return {"device": device, "events": len(truth), "truth_vs_truth_auc": floor, "rows": rows}


def markdown(result: dict) -> str:
    lines = [
        f"Sample quality against steps ({result['events']:,} events, {result['device']}; "
        f"test vs validation split AUC {result['truth_vs_truth_auc']:.3f})",
        "",
        "| family | sampler | steps | events/s | classifier AUC |",
        "|---|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        auc = "diverged" if r["auc"] is None else f"{r['auc']:.3f}"
        lines.append(
            f"| {r['family']} | {r['sampler']} | {r['steps']} | {r['events_per_s']:,.0f} | {auc} |"
        )
    return "\n".join(lines)
