"""Generate one shard of Pythia 8 events, cluster them with FastJet, write ROOT."""

import time
from pathlib import Path

from genhep.cli import json_arg, log, parser, run
from genhep.data.pythia import PythiaParams, write_shard


def main(args):
    cfg = dict(args.params)
    params = PythiaParams.from_config(cfg, cfg.pop("process"))
    start = time.perf_counter()
    info = write_shard(params, args.shard, args.output)
    seconds = time.perf_counter() - start
    log.info(
        "%s shard %d (seed %d): %d events, %.2f jets/event above %.0f GeV, to %s in %.1f s "
        "(%.1f ms/event)",
        params.process,
        args.shard,
        info["seed"],
        info["events"],
        info["jets_per_event"],
        params.jet_min_pt,
        args.output,
        seconds,
        1000 * seconds / info["events"],
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--params", type=json_arg, required=True, help="the config's pythia section")
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--output", type=Path, required=True)
    run("generate_pythia", main, p.parse_args())
