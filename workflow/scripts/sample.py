"""Generate one shard of events from a trained model, in physical units."""

from pathlib import Path

import torch

from genhep.cli import log, parser, run
from genhep.sample import sample_shard


def main(args):
    torch.set_num_threads(args.threads)
    info = sample_shard(
        args.model,
        args.test,
        args.features,
        args.output,
        shard=args.shard,
        events_per_shard=args.events,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
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
    p.add_argument("--events", type=int, required=True, help="events in this shard")
    p.add_argument("--batch-size", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    run("sample", main, p.parse_args(), gpu=True)
