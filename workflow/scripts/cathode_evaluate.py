"""CATHODE: SIC and rejection curves of every method at one search point."""

import argparse
from pathlib import Path

from genhep.cathode.stage_evaluate import evaluate_point
from genhep.cli import json_arg, log, parser, run


def method_path(text: str) -> tuple[str, Path]:
    method, sep, path = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected METHOD=PATH, got {text!r}")
    return method, Path(path)


def main(args):
    outputs = {
        "evaluation": args.evaluation,
        "curves": args.curves,
        "sic": args.sic,
        "rejection": args.rejection,
    }
    result = evaluate_point(dict(args.scores), args.test, args.counts, outputs, args.params)
    for method, m in result["methods"].items():
        lo, mid, hi = m["max_sic"]
        log.info("%s: max SIC %.2f [%.2f, %.2f]", method, mid, lo, hi)


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--scores", type=method_path, nargs="+", required=True, help="METHOD=scores.h5")
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--counts", type=Path, required=True)
    p.add_argument("--params", type=json_arg, required=True, help="evaluation settings (JSON)")
    p.add_argument("--evaluation", type=Path, required=True)
    p.add_argument("--curves", type=Path, required=True)
    p.add_argument("--sic", type=Path, required=True)
    p.add_argument("--rejection", type=Path, required=True)
    run("cathode_evaluate", main, p.parse_args())
