"""Generate one shard of events from a trained model, in physical units."""

from pathlib import Path

import torch

from genhep.cli import json_arg, log, parser, run
from genhep.sample import sample_shard
from genhep.settings import SampleSettings


def main(args):
    torch.set_num_threads(args.threads)
    settings = SampleSettings.from_config(args.params)
    info = sample_shard(
        args.model,
        args.test,
        args.features,
        args.output,
        shard=args.shard,
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


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--test", type=Path, required=True, help="test split (context pool)")
    p.add_argument("--features", type=Path, required=True, help="feature table (for units)")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument(
        "--params", type=json_arg, default={}, help="sample settings (JSON; SampleSettings)"
    )
    p.add_argument("--threads", type=int, default=1)
    run("sample", main, p.parse_args(), gpu=True)
