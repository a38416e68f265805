"""CATHODE and its baselines: a classifier ensemble (label 1 vs 0), scored on the test set."""

from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from genhep.cathode.stage_classify import classify
from genhep.cli import json_arg, parser, run


def main(args):
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        classify(
            args.method,
            args.label1,
            args.label0,
            args.test,
            args.output,
            args.params,
            args.seed,
            args.label0_ratio,
        )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--method", required=True)
    p.add_argument("--label1", type=Path, required=True, help="e.g. the SR data")
    p.add_argument("--label0", type=Path, required=True, help="e.g. the background template")
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--params", type=json_arg, required=True, help="classifier settings (JSON)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--label0-ratio", type=float, help="cap label 0 at this multiple of label 1")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    run("cathode_classify", main, p.parse_args(), gpu=True)
