"""Read ROOT files (or LHC Olympics features HDF5 files) through a branch mapping, or the
datasets of a dataset sheet, and write the event-feature table (HDF5)."""

import time
from pathlib import Path

from genhep.cli import json_arg, log, parser, run
from genhep.errors import GenhepError
from genhep.ingest import Selection, ingest, ingest_datasets
from genhep.io.mappings import resolve_mapping


def progress(path, n):
    log.info("%s: %d events read", path, n)


def main(args):
    selection = Selection.from_config(args.selection)
    start = time.perf_counter()
    if args.datasets is not None:
        if not isinstance(args.datasets, list):
            raise GenhepError("--datasets: expected a JSON list of datasets (Dataset.as_dict())")
        prov = ingest_datasets(args.datasets, args.output, selection, args.chunk_size, progress)
    else:
        mapping = resolve_mapping(args.mapping, tree=args.tree)
        prov = ingest(args.inputs, mapping, args.output, selection, args.chunk_size, progress)
    seconds = time.perf_counter() - start
    log.info(
        "kept %d of %d events (dropped: %s) -> %s in %.1f s",
        prov["events_kept"],
        prov["events_read"],
        {k: v for k, v in prov.items() if k.startswith("dropped_")},
        args.output,
        seconds,
    )
    for dataset in prov.get("datasets", []):
        log.info(
            "dataset %s (label %s): kept %d of %d events",
            dataset["name"],
            dataset["label"],
            dataset["events_kept"],
            dataset["events_read"],
        )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--inputs", nargs="+", type=Path, help="input files (with --mapping)")
    p.add_argument("--mapping", type=json_arg, help="preset name or mapping (JSON)")
    p.add_argument("--tree", default=None, help="override the mapping's TTree name")
    p.add_argument(
        "--datasets",
        type=json_arg,
        default=None,
        help="the dataset sheet's rows as a JSON list of genhep.datasets.Dataset.as_dict() "
        "(instead of --inputs/--mapping/--tree)",
    )
    p.add_argument("--selection", type=json_arg, default={}, help="selection (JSON)")
    p.add_argument("--chunk-size", type=int, default=100_000)
    p.add_argument("--output", type=Path, required=True)
    args = p.parse_args()
    if args.datasets is not None and (args.inputs or args.mapping is not None or args.tree):
        p.error("--datasets replaces --inputs, --mapping and --tree: give one or the other")
    if args.datasets is None and not (args.inputs and args.mapping is not None):
        p.error("give --inputs and --mapping, or --datasets")
    run("ingest", main, args)
