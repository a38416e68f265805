"""Generate the LHCO-like toy events and write them to a ROOT TTree."""

import time
from pathlib import Path

from genhep.cli import json_arg, log, parser, run
from genhep.data.toy import ToyParams, write_root


def main(args):
    params = ToyParams.from_config(args.params)
    start = time.perf_counter()
    counts = write_root(params, args.output)
    seconds = time.perf_counter() - start
    log.info(
        "wrote %d events (%d signal) to %s in %.1f s (%.0f events/s including ROOT writing)",
        counts["events"],
        counts["signal"],
        args.output,
        seconds,
        counts["events"] / seconds,
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--params", type=json_arg, required=True, help="the config's toy section (JSON)")
    p.add_argument("--output", type=Path, required=True)
    run("generate_toy", main, p.parse_args())
