"""ANODE: the density ratio of an SR model and the SB model, as an anomaly score."""

from pathlib import Path

import torch

from genhep.cathode.stage_template import write_anode_scores
from genhep.cli import parser, run


def main(args):
    torch.set_num_threads(args.threads)
    write_anode_scores(
        args.sb_model, args.sr_model, args.transform, args.test, args.output, args.device
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--sb-model", type=Path, required=True)
    p.add_argument("--sr-model", type=Path, required=True)
    p.add_argument("--transform", type=Path, required=True)
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    run("cathode_anode", main, p.parse_args(), gpu=True)
