"""CATHODE: the SR sets no injection level changes (labelled test, true background, signal)."""

from pathlib import Path

from genhep.cathode.stage_data import make_fixed_sets
from genhep.cli import json_arg, parser, run


def main(args):
    outputs = {"test": args.test, "reference": args.reference, "signal": args.signal}
    make_fixed_sets(args.events, args.params, args.window, args.seed, outputs)


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--events", type=Path, required=True, help="labelled feature table")
    p.add_argument("--params", type=json_arg, required=True, help="the data settings (JSON)")
    p.add_argument("--window", type=float, required=True, help="SR centre, TeV")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--signal", type=Path, required=True)
    run("cathode_fixed", main, p.parse_args())
