"""The cloud sampling stage: a trained cloud generator in, generated jets out, sharded.

As for the event table (genhep.sample), shard ``s`` writes jets ``s·n … (s+1)·n − 1`` of
one long, reproducible stream, in batches (bounded memory), and a gather stage
concatenates the shards chunk by chunk. Jet ``g`` of the stream takes its condition from
the test split's *pool* half, row ``perm[g mod len(pool)]`` for a seeded permutation, so
the first ``len(pool)`` jets use every pool jet's condition exactly once: compared with
the reference half, they stand exactly where the pool's own jets stand, which gives every
metric its truth-vs-truth scale.

Each jet's multiplicity n is drawn from the training set's distribution given its
condition (genhep.clouds.multiplicity); the generator fills the first n slots. Its
particles are mapped back to (Δη, Δφ, pT_rel), ordered by pT. Its pT and η are the pool
jet's (the condition, in physical units), its mass that of the generated constituents.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from genhep.clouds import Clouds, sort_by_pt
from genhep.clouds.metrics import relative_mass
from genhep.clouds.multiplicity import MultiplicitySampler
from genhep.contracts import reference_and_pool
from genhep.contracts.clouds import cloud_writer, load_cloud_split, read_clouds
from genhep.errors import GenhepError
from genhep.settings.clouds import CloudSampleSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

WRITTEN_BY = "sample_clouds"


def _conditions(test_path: Path, pool_path: Path):
    """The pool's conditions in the model's space, its jets in physical units, the
    transforms and the multiplicity sampler."""
    split = load_cloud_split(test_path)
    _, pool_rows = reference_and_pool(len(split["context"]))
    pool = read_clouds(pool_path)
    if len(pool) != len(pool_rows) or len(pool) == 0:
        raise GenhepError(
            f"{pool_path}: {len(pool)} jets, but the test split {test_path} has a pool half "
            f"of {len(pool_rows)}; rerun the preprocess_clouds rule"
        )
    sampler = MultiplicitySampler.from_dict(split["attrs"]["multiplicity"])
    return split["context"][pool_rows][:, :-1], pool, split["preprocessor"], sampler


def run(settings: CloudSampleSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """Shard ``settings.shard`` of the model ``inputs.model``: conditions from the test
    split ``inputs.test`` and its pool half ``inputs.pool``, to ``outputs.samples``."""
    import torch  # here: gathering imports this module without paying for torch

    from genhep.models import load_ensemble
    from genhep.training import resolve_device

    dev = resolve_device(settings.device, "jets.sample.device")
    condition, pool, pre, sampler = _conditions(Path(inputs.test), Path(inputs.pool))
    model = load_ensemble(inputs.model, dev)
    n_max = pool.n_particles
    perm = np.random.default_rng(settings.seed).permutation(len(pool))
    rng = np.random.default_rng([settings.seed, settings.shard])  # multiplicities
    torch.manual_seed(settings.seed * 100_003 + settings.shard)
    first = settings.shard * settings.events_per_shard
    dropped, start = 0, time.perf_counter()
    attrs = {"model": str(inputs.model), "context_pool": str(inputs.pool)}
    with cloud_writer(outputs.samples, attrs, WRITTEN_BY) as writer:
        for begin in range(0, settings.events_per_shard, settings.batch_size):
            n = min(settings.batch_size, settings.events_per_shard - begin)
            rows = perm[(first + begin + np.arange(n)) % len(pool)]
            values = None if sampler.column is None else pool.jets[sampler.column][rows]
            n_real = np.maximum(sampler.sample(values, rng, size=n), 1)
            context = np.column_stack([condition[rows], n_real / n_max]).astype(np.float32)
            c = torch.as_tensor(context, device=dev)
            out = model.sample(n, c).float().cpu().numpy()
            mask = np.arange(n_max)[None, :] < n_real[:, None]
            particles = pre.particles.inverse(out[..., :3], mask)
            good = np.isfinite(particles).all(axis=(1, 2))
            dropped += int((~good).sum())
            particles, mask = sort_by_pt(particles[good], mask[good])
            rows, n_real = rows[good], n_real[good]
            pt = pool.jets["pt"][rows]
            jets = {
                "pt": pt,
                "eta": pool.jets["eta"][rows],
                "mass": relative_mass(particles, mask) * pt,
                "num_particles": n_real.astype(np.float64),
            }
            label = None if pool.label is None else pool.label[rows]
            writer.append(Clouds(particles, mask, jets, label, pool.classes))
        seconds = time.perf_counter() - start
        info = {
            "family": model.members[0].family,
            "shard": settings.shard,
            "first_event": first,
            "events_requested": settings.events_per_shard,
            "events": writer.jets,
            "dropped_nonfinite": dropped,
            "seed": settings.seed,
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "epochs_in_ensemble": len(model.members),
            "seconds": seconds,
            "events_per_second": settings.events_per_shard / seconds,
        }
        writer.attrs.update(info)
    log.info(
        "%s shard %d: %d jets in %.1f s on %s (%.0f jets/s; %d non-finite dropped)",
        info["family"],
        info["shard"],
        info["events"],
        seconds,
        info["device"],
        info["events_per_second"],
        dropped,
    )
    return info


STAGE = Stage(
    "sample_clouds",
    run,
    CloudSampleSettings,
    inputs=("model", "test", "pool"),
    outputs=("samples",),
    description="Generate one shard of jets from a trained cloud generator.",
    gpu=True,
)
