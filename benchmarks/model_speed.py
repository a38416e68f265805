"""Training and sampling speed of every family, as the pipeline runs them.

Training goes through genhep's own ``Trainer`` (data resident on the device, batches by
index, one validation pass per epoch), so the number is what a ``train`` job achieves,
validation included. Sampling draws events in chunks of ``sample_batch`` with a
context column, as the sampling stage will. Inputs are standard-normal features and
context of the LHCO shape (4 features + mjj): speed depends on shapes, not on values.
"""

from __future__ import annotations

import statistics
import time

import torch

from genhep.models import FAMILIES, build_model
from genhep.training import Trainer, TrainSettings, resolve_device, seed_everything

N_FEATURES, N_CONTEXT = 4, 1


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, N_FEATURES, generator=g), torch.randn(n, N_CONTEXT, generator=g)


def bench_family(
    family: str,
    hparams: dict,
    device: str,
    batch_size: int,
    train_events: int,
    sample_events: int,
    sample_batch: int,
    repeats: int,
    lr: float = 1e-3,
) -> dict:
    dev = resolve_device(device)
    seed_everything(0)
    model = build_model(family, N_FEATURES, N_CONTEXT, hparams)
    x, c = _data(train_events, 1)
    xv, cv = _data(max(train_events // 4, 1), 2)
    settings = TrainSettings(
        epochs=1, batch_size=batch_size, lr=lr, patience=0, device=device, seed=1
    )

    def train_one_epoch():
        Trainer(model, settings, progress=False).fit(x, c, xv, cv)

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    train_seconds = timed(train_one_epoch, dev, repeats)

    model.to(dev).eval()
    context = torch.randn(sample_events, N_CONTEXT, device=dev)

    def sample_all():
        for start in range(0, sample_events, sample_batch):
            model.sample(
                min(sample_batch, sample_events - start), context[start : start + sample_batch]
            )

    sample_seconds = timed(sample_all, dev, repeats)
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    return {
        "family": family,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch_size": batch_size,
        "train_events": train_events,
        "train_events_per_s": train_events / train_seconds,
        "sample_events": sample_events,
        "sample_events_per_s": sample_events / sample_seconds,
        "peak_gpu_mb": peak,
    }


def bench_models(
    families: list[str],
    hparams: dict[str, dict],
    device: str,
    batch_sizes: dict[str, list[int]],
    train_events: int,
    sample_events: int,
    sample_batch: int,
    repeats: int,
) -> list[dict]:
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise SystemExit(f"unknown families {unknown} (known: {', '.join(FAMILIES)})")
    return [
        bench_family(
            f, hparams.get(f, {}), device, b, train_events, sample_events, sample_batch, repeats
        )
        for f in families
        for b in batch_sizes[f]
    ]


def markdown(rows: list[dict]) -> str:
    lines = [
        "| family | device | params | batch | train events/s | sample events/s | peak GPU MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        peak = "" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:.0f}"
        lines.append(
            f"| {r['family']} | {r['device']} | {r['parameters']:,} | {r['batch_size']} | "
            f"{r['train_events_per_s']:,.0f} | {r['sample_events_per_s']:,.0f} | {peak} |"
        )
    return "\n".join(lines)
