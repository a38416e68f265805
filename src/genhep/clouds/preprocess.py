"""The cloud preprocess stage: a class's cloud store in, its training splits out.

The jets are shuffled (seeded) and cut into train, val and test. On the training split
only, it fits the particle transform (real particles only), the jet-condition transform
and the multiplicity sampler (genhep.clouds.multiplicity). Each split is written in the
layout training reads (genhep.contracts.clouds): transformed particles with the mask as a
fourth channel, and the context (the condition, then n / N).

A val or test jet with a particle outside the training range of a bounded step has no
image (NaN): it is dropped and counted, as the event table's preprocessing does.

The test split is also written in physical units, cut in two halves as the event table's
(genhep.contracts.reference_and_pool): the *reference* half is the truth every metric
compares with; the *pool* half gives the generators their conditions, and is compared
with the reference as it is, for each metric's truth-vs-truth value.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from genhep.clouds import Clouds
from genhep.clouds.multiplicity import MultiplicitySampler
from genhep.clouds.transforms import CloudPreprocessor, JetConditionTransform, ParticleTransform
from genhep.contracts import reference_and_pool
from genhep.contracts.clouds import (
    CLOUD_SPLITS_RULE,
    join_particles,
    read_clouds,
    write_cloud_split,
    write_clouds,
)
from genhep.errors import GenhepError
from genhep.io.atomic import write_text_atomic
from genhep.settings.clouds import CloudPreprocessSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

SPLITS = ("train", "val", "test")


def split_rows(n: int, settings: CloudPreprocessSettings) -> dict[str, np.ndarray]:
    """The jets' rows of each split: a seeded permutation cut by the fractions."""
    order = np.random.default_rng(settings.seed).permutation(n)
    n_train = int(round(settings.split.train * n))
    n_val = int(round(settings.split.val * n))
    rows = {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }
    small = [name for name, r in rows.items() if len(r) < (2 if name == "test" else 1)]
    if small:
        raise GenhepError(
            f"jets.preprocess.split: {n} jets leave the {', '.join(small)} split(s) (nearly) "
            "empty; ingest more jets or change the fractions"
        )
    return rows


def fit(train: Clouds, settings: CloudPreprocessSettings) -> tuple[CloudPreprocessor, Any]:
    """The transforms and the multiplicity sampler, fitted on the training jets."""
    condition = list(settings.condition)
    pre = CloudPreprocessor(
        ParticleTransform.build(),
        JetConditionTransform.build(condition) if condition else None,
    ).fit(train)
    first = condition[0] if condition else None
    sampler = MultiplicitySampler.fit(
        train.mask.sum(axis=1),
        train.n_particles,
        None if first is None else train.jets[first],
        first,
        settings.multiplicity_bins,
    )
    return pre, sampler


def model_arrays(clouds: Clouds, pre: CloudPreprocessor) -> tuple[np.ndarray, np.ndarray]:
    """(features (jets, N, 4), context (jets, C + 1)) in the model's space, float32."""
    particles = pre.particles.forward(clouds.particles, clouds.mask)
    n_real = clouds.mask.sum(axis=1, keepdims=True) / clouds.n_particles
    condition = [] if pre.condition is None else [pre.condition.forward(clouds.jets)]
    context = np.concatenate([*condition, n_real], axis=1).astype(np.float32)
    return join_particles(particles, clouds.mask), context


def run(settings: CloudPreprocessSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """``inputs.features`` (a cloud store) into ``outputs.train``, ``val``, ``test`` (cloud
    splits), ``reference`` and ``pool`` (the test halves, cloud stores) and ``transform``."""
    clouds = read_clouds(inputs.features)
    rows = split_rows(len(clouds), settings)
    pre, sampler = fit(clouds.take(rows["train"]), settings)
    info: dict[str, Any] = {"source": str(inputs.features), "jets": len(clouds)}
    attrs = {
        "transform": pre.to_json(),
        "multiplicity": sampler.to_json(),
        "condition": list(settings.condition),
        "n_particles": clouds.n_particles,
        "source": str(inputs.features),
        "seed": settings.seed,
    }
    for name in SPLITS:
        part = clouds.take(rows[name])
        features, context = model_arrays(part, pre)
        finite = np.isfinite(features).all(axis=(1, 2)) & np.isfinite(context).all(axis=1)
        if name != "train" and not finite.all():
            part, features, context = part.take(finite), features[finite], context[finite]
        elif not finite.all():
            raise GenhepError(f"{inputs.features}: training jets with no image under the fit")
        info[f"{name}_jets"] = len(part)
        info[f"{name}_dropped_out_of_range"] = int((~finite).sum())
        write_cloud_split(
            getattr(outputs, name), features, context, rows[name][finite], {**attrs, "split": name}
        )
        if name == "test":
            reference, pool = reference_and_pool(len(part))
            write_clouds(outputs.reference, part.take(reference), attrs, CLOUD_SPLITS_RULE)
            write_clouds(outputs.pool, part.take(pool), attrs, CLOUD_SPLITS_RULE)
    write_text_atomic(outputs.transform, pre.to_json())
    log.info(
        "%d jets: %d train, %d val, %d test (dropped out of range: %d val, %d test)",
        len(clouds),
        info["train_jets"],
        info["val_jets"],
        info["test_jets"],
        info["val_dropped_out_of_range"],
        info["test_dropped_out_of_range"],
    )
    return info


STAGE = Stage(
    "preprocess_clouds",
    run,
    CloudPreprocessSettings,
    inputs=("features",),
    outputs=("train", "val", "test", "reference", "pool", "transform"),
    description="Split one class's jets, fit the transforms on the training split, write "
    "the splits in the model's space and the test halves in physical units.",
)
