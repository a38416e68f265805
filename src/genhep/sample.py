"""The sampling stage: a trained model in, generated events in physical units out.

Sampling is sharded: shard ``s`` of a family writes events ``s·n … (s+1)·n − 1`` of one
long, reproducible stream, in batches, so memory is bounded by the batch size however
many events are asked for. A gather step concatenates the shards chunk by chunk.

The conditioning values (mjj) come from the held-out test split. The test split is cut
in two halves (``genhep.contracts.reference_and_pool``): the *reference* half is the
truth every metric compares to, the *pool* half provides the contexts. Event ``g`` of
the stream takes the pool's context number ``perm[g mod len(pool)]`` for a seeded
permutation ``perm``, so the first ``len(pool)`` generated events use every pool context
exactly once: compared with the reference, they are in exactly the position of the
pool's own truth events, which gives every metric its truth-vs-truth scale.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from genhep.contracts import load_split, open_samples, reference_and_pool, write_samples
from genhep.errors import GenhepError
from genhep.io.hdf5 import column_units
from genhep.settings.evaluation import SampleSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")


def sample_shard(
    model_path: str | os.PathLike,
    test_path: str | os.PathLike,
    features_path: str | os.PathLike,
    output: str | os.PathLike,
    shard: int,
    events_per_shard: int,
    batch_size: int = 100_000,
    seed: int = 11,
    device: str = "auto",
) -> dict[str, Any]:
    """Generate one shard and write it (atomically) as an HDF5 column table."""
    # torch only here: gathering and evaluation import this module without paying for it.
    import torch

    from genhep.models import load_ensemble
    from genhep.training import resolve_device

    dev = resolve_device(device, "sample.device")
    split = load_split(test_path)
    pre = split["preprocessor"]
    feature_names = list(pre.features.names)
    context_name = pre.context.names[0] if pre.context is not None else None
    model = load_ensemble(model_path, dev)
    pool = None
    if context_name is not None:
        _, pool_rows = reference_and_pool(len(split["context"]))
        pool_values = split["context"][pool_rows]  # float64, written out exactly
        pool = torch.as_tensor(pool_values, dtype=torch.float32, device=dev)
        if len(pool) == 0:
            raise GenhepError(
                f"{test_path}: no test events to draw the context ({context_name}) from"
            )
        perm = torch.as_tensor(np.random.default_rng(seed).permutation(len(pool)), device=dev)
    columns = feature_names + ([context_name] if context_name else [])
    units = column_units(features_path, columns)

    torch.manual_seed(seed * 100_003 + shard)  # each shard its own, reproducible stream
    first = shard * events_per_shard
    nonfinite = 0
    start = time.perf_counter()
    with write_samples(output, units, chunk_rows=min(batch_size, 65_536)) as writer:
        for begin in range(0, events_per_shard, batch_size):
            n = min(batch_size, events_per_shard - begin)
            c = None
            if pool is not None:
                g = torch.arange(first + begin, first + begin + n, device=dev)
                rows = perm[g % len(pool)]
                c = pool[rows]
            x = model.sample(n, c)
            # Back to physical units on the host, one batch at a time.
            x_phys = pre.features.inverse(x.double().cpu().numpy())
            table = {name: x_phys[:, i] for i, name in enumerate(feature_names)}
            if c is not None:
                table[context_name] = pre.context.inverse(pool_values[rows.cpu().numpy()])[:, 0]
            finite = np.all([np.isfinite(v) for v in table.values()], axis=0)
            nonfinite += int((~finite).sum())
            writer.append({k: v[finite] for k, v in table.items()})
        seconds = time.perf_counter() - start
        info = {
            "family": model.members[0].family,
            "shard": shard,
            "first_event": first,
            "events_requested": events_per_shard,
            "events": writer.rows,
            "dropped_nonfinite": nonfinite,
            "seed": seed,
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "epochs_in_ensemble": len(model.members),
            "seconds": seconds,
            "events_per_second": events_per_shard / seconds,
        }
        writer.write_attrs(
            {
                "columns": columns,
                "model": str(Path(model_path)),
                "context_pool": f"{test_path} (odd positions)",
                **info,
            },
        )
    if nonfinite:
        log.warning("%s shard %d: dropped %d non-finite events", info["family"], shard, nonfinite)
    return info


def run(settings: SampleSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The sampling stage: shard ``settings.shard`` of the model ``inputs.model``, its
    contexts from ``inputs.test``, units from ``inputs.features``, to ``outputs.samples``."""
    info = sample_shard(
        inputs.model,
        inputs.test,
        inputs.features,
        outputs.samples,
        shard=settings.shard,
        events_per_shard=settings.events_per_shard,
        batch_size=settings.batch_size,
        seed=settings.seed,
        device=settings.device,
    )
    log.info(
        "%s shard %d: %d events in %.1f s on %s (%.0f events/s)",
        info["family"],
        info["shard"],
        info["events"],
        info["seconds"],
        info["device"],
        info["events_per_second"],
    )
    return info


STAGE = Stage(
    "sample",
    run,
    SampleSettings,
    inputs=("model", "test", "features"),
    outputs=("samples",),
    description="Generate one shard of events from a trained model, in physical units.",
    gpu=True,
)


def gather_shards(
    shards: list[str | os.PathLike], output: str | os.PathLike, chunk: int = 1_000_000
) -> dict[str, Any]:
    """Concatenate shard files in order, ``chunk`` rows at a time (bounded memory)."""
    with open_samples(shards[0]) as first:
        units = first.units(first.attrs["columns"])
    infos = []
    with write_samples(output, units) as writer:
        for path in shards:
            with open_samples(path) as f:
                attrs = f.attrs
                columns = attrs["columns"]
                for begin in range(0, attrs["events"], chunk):
                    writer.append(f.read(columns, begin, begin + chunk))
            infos.append(attrs)
        seconds = sum(i["seconds"] for i in infos)
        summary = {
            "family": infos[0]["family"],
            "columns": columns,
            "shards": len(infos),
            "events": writer.rows,
            "dropped_nonfinite": sum(i["dropped_nonfinite"] for i in infos),
            "device": infos[0]["device"],
            "sampling_seconds": seconds,
            "events_per_second": sum(i["events_requested"] for i in infos) / seconds,
        }
        writer.write_attrs(summary)
    return summary
