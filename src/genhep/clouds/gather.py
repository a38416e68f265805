"""The cloud gather stage: a cloud family's sample shards concatenated, in order, into one
cloud store, chunk by chunk (bounded memory however many jets)."""

from __future__ import annotations

import logging
from typing import Any

from genhep.contracts.clouds import cloud_store_attrs, cloud_writer, read_clouds
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

GATHER_CHUNK = 50_000  # jets copied at a time


def run(settings: None, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The shards ``inputs.shards`` concatenated in order into ``outputs.samples``,
    ``GATHER_CHUNK`` jets at a time (bounded memory)."""
    infos = [cloud_store_attrs(p) for p in inputs.shards]
    with cloud_writer(outputs.samples, {}, "gather_clouds") as writer:
        for path, shard in zip(inputs.shards, infos, strict=True):
            for begin in range(0, shard["jets"], GATHER_CHUNK):
                writer.append(read_clouds(path, begin, begin + GATHER_CHUNK, "sample_clouds"))
        seconds = sum(i["seconds"] for i in infos)
        summary = {
            "family": infos[0]["family"],
            "shards": len(infos),
            "events": writer.jets,
            "dropped_nonfinite": sum(i["dropped_nonfinite"] for i in infos),
            "device": infos[0]["device"],
            "sampling_seconds": seconds,
            "events_per_second": sum(i["events_requested"] for i in infos) / seconds,
        }
        writer.attrs.update(summary)
    log.info("%s: %d jets from %d shards", summary["family"], writer.jets, len(infos))
    return summary


STAGE = Stage(
    "gather_clouds",
    run,
    None,
    inputs=("shards*",),
    outputs=("samples",),
    description="Concatenate a cloud family's sample shards, chunk by chunk.",
)
