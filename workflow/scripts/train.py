"""Train one generator family on the preprocessed splits."""

import sys
from pathlib import Path

from genhep.cli import json_arg, log, parser, run
from genhep.train import train_family
from genhep.training import TrainingInterrupted


def main(args):
    try:
        info = train_family(
            args.family,
            args.params,
            args.train,
            args.val,
            args.outdir,
            args.checkpoint,
            args.threads,
        )
    except TrainingInterrupted as stop:
        log.warning("genhep train: %s", stop)
        sys.exit(143)  # 128 + SIGTERM: the batch system sees a terminated job
    log.info(
        "%s: best epoch %d of %d, validation loss %.4f, %.0f s on %s (%.0f events/s)",
        info["family"],
        info["best_epoch"],
        info["epochs_run"],
        info["best_val_loss"],
        info["training_seconds"],
        info["device"],
        info["train_events_per_second"],
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--family", required=True)
    p.add_argument(
        "--params", type=json_arg, required=True, help='{"train": {...}, "model": {...}}'
    )
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--val", type=Path, required=True)
    p.add_argument("--outdir", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    run("train", main, p.parse_args(), gpu=True)
