"""CATHODE: sample the SB density model into the SR: the background template."""

from pathlib import Path

import torch

from genhep.cathode.stage_template import make_template
from genhep.cli import json_arg, parser, run


def main(args):
    torch.set_num_threads(args.threads)
    make_template(
        args.model,
        args.transform,
        args.sr_data,
        args.output,
        args.params,
        args.window,
        args.seed,
        args.device,
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--transform", type=Path, required=True)
    p.add_argument("--sr-data", type=Path, required=True)
    p.add_argument("--params", type=json_arg, required=True, help="interpolation settings (JSON)")
    p.add_argument("--window", type=float, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    run("cathode_template", main, p.parse_args(), gpu=True)
