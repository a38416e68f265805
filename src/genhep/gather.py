"""The gather stage: a family's sample shards concatenated, in order, into one table.

The concatenation itself is ``genhep.sample.gather_shards`` (chunk by chunk: bounded
memory however many events); this module is its stage, kept apart from the sampling
stage so that each stage module declares one ``STAGE``.
"""

from __future__ import annotations

import logging
from typing import Any

from genhep.sample import gather_shards
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")


def run(settings: None, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The shards ``inputs.shards`` (in the order given) into ``outputs.samples``; the
    stage takes no settings."""
    info = gather_shards(inputs.shards, outputs.samples)
    log.info(
        "%s: %d events from %d shards (%.0f events/s on %s)",
        info["family"],
        info["events"],
        info["shards"],
        info["events_per_second"],
        info["device"],
    )
    return info


STAGE = Stage(
    "gather_samples",
    run,
    None,
    inputs=("shards*",),
    outputs=("samples",),
    description="Concatenate a family's sample shards into one table, chunk by chunk.",
)
