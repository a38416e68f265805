"""Summarise the amplification study: a table (CSV or Markdown, by suffix) and the
quantile-MSE figure (as Fig. 2 of arXiv 2008.06545)."""

import json
from pathlib import Path

from genhep.amplification.report import (
    plot_quantile_mse,
    rows_to_csv,
    rows_to_markdown,
    summarise,
)
from genhep.cli import log, parser, run
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path, write_text_atomic


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise GenhepError(f"{path}: not an amplification result: {err}") from err


def main(args):
    for table in args.table:
        if table.suffix not in (".csv", ".md"):
            raise GenhepError(f"--table {table}: the suffix must be .csv or .md")
    results = [load(path) for path in args.inputs]
    rows = summarise(results)
    first = results[0]
    for table in args.table:
        if table.suffix == ".csv":
            text = rows_to_csv(rows)
        else:
            text = rows_to_markdown(rows, first["quantiles"], first["n_train"])
        write_text_atomic(table, text)
    with atomic_path(args.plot) as tmp:
        plot_quantile_mse(results, tmp)
    for row in rows:
        log.info(
            "%-16s amplification %6.2f [%.2f, %.2f]",
            row["name"],
            row["amplification_median"],
            row["amplification_q16"],
            row["amplification_q84"],
        )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--inputs", type=Path, nargs="+", required=True, help="amplify.py outputs")
    p.add_argument("--table", type=Path, nargs="+", required=True, help="*.csv and/or *.md")
    p.add_argument("--plot", type=Path, required=True, help="PNG")
    run("amplification_summary", main, p.parse_args())
