"""CATHODE: max SIC vs S/B over every search point, one line per method and family."""

import csv
import io
import json
from pathlib import Path

from genhep.cathode.stage_evaluate import SUMMARY_COLUMNS, summary_markdown, summary_rows
from genhep.cli import parser, run
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.plots import plot_max_sic_scan


def main(args):
    rows = summary_rows([json.loads(Path(p).read_text()) for p in args.evaluations])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(args.csv, out.getvalue())
    write_text_atomic(args.md, summary_markdown(rows))
    with atomic_path(args.plot) as tmp:
        plot_max_sic_scan(rows, tmp)


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--evaluations", type=Path, nargs="+", required=True)
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    p.add_argument("--plot", type=Path, required=True)
    run("cathode_summary", main, p.parse_args())
