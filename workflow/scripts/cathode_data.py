"""CATHODE: one point's data (background + injected signal) cut into SR, SB and their splits."""

from pathlib import Path

from genhep.cathode.stage_data import make_point_data
from genhep.cli import json_arg, parser, run


def main(args):
    make_point_data(args.events, args.params, args.window, args.seed, args.signal, args.outdir)


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--events", type=Path, required=True, help="labelled feature table")
    p.add_argument("--params", type=json_arg, required=True, help="the data settings (JSON)")
    p.add_argument("--window", type=float, required=True, help="SR centre, TeV")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--signal", type=int, required=True, help="injected signal events")
    p.add_argument("--outdir", type=Path, required=True)
    run("cathode_data", main, p.parse_args())
