"""Read ROOT files through a branch mapping and write the event-feature table (HDF5)."""

import time
from pathlib import Path

from genhep.cli import json_arg, log, parser, run
from genhep.ingest import Selection, ingest
from genhep.io.mappings import resolve_mapping


def main(args):
    mapping = resolve_mapping(args.mapping, tree=args.tree)
    start = time.perf_counter()
    prov = ingest(
        args.inputs,
        mapping,
        args.output,
        Selection.from_config(args.selection),
        args.chunk_size,
        progress=lambda path, n: log.info("%s: %d events read", path, n),
    )
    seconds = time.perf_counter() - start
    log.info(
        "kept %d of %d events (dropped: %s) -> %s in %.1f s",
        prov["events_kept"],
        prov["events_read"],
        {k: v for k, v in prov.items() if k.startswith("dropped_")},
        args.output,
        seconds,
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--inputs", nargs="+", type=Path, required=True)
    p.add_argument("--mapping", type=json_arg, required=True, help="preset name or mapping (JSON)")
    p.add_argument("--tree", default=None, help="override the mapping's TTree name")
    p.add_argument("--selection", type=json_arg, default={}, help="selection (JSON)")
    p.add_argument("--chunk-size", type=int, default=100_000)
    p.add_argument("--output", type=Path, required=True)
    run("ingest", main, p.parse_args())
