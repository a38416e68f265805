"""Concatenate a family's sample shards into one table, chunk by chunk."""

from pathlib import Path

from genhep.cli import log, parser, run
from genhep.sample import gather_shards


def main(args):
    info = gather_shards(args.shards, args.output)
    log.info(
        "%s: %d events from %d shards (%.0f events/s on %s)",
        info["family"],
        info["events"],
        info["shards"],
        info["events_per_second"],
        info["device"],
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--shards", type=Path, nargs="+", required=True)
    p.add_argument("--output", type=Path, required=True)
    run("gather_samples", main, p.parse_args())
