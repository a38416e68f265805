"""Collect every family's metrics into the leaderboard, and plot the families side by side."""

import json
from pathlib import Path

from genhep.cli import parser, run
from genhep.contracts import generated_table, load_split
from genhep.evaluate import truth_table
from genhep.io.hdf5 import column_units
from genhep.plots import plot_feature_histograms, plot_metric_bars
from genhep.report import leaderboard_markdown, leaderboard_rows, write_leaderboard


def main(args):
    truth = json.loads(args.truth.read_text())
    families = [json.loads(p.read_text()) for p in args.families]
    rows = leaderboard_rows(truth, families)
    columns = truth["columns"]
    markdown = leaderboard_markdown(rows, columns, truth["n_compared"])
    columns, reference, pool = truth_table(load_split(args.test))
    generated = {
        result["family"]: generated_table(path, columns, len(pool))
        for result, path in zip(families, args.samples, strict=True)
    }
    units = column_units(args.features, columns) if args.features else {}
    plot_feature_histograms(
        reference, generated, columns, units, args.features_plot, "all families", args.bins
    )
    plot_metric_bars(
        rows,
        [("auc_gbdt", "classifier AUC (GBDT)"), ("fpd", "FPD"), ("w1_mean_norm", "mean W1 / σ")],
        args.metrics_plot,
    )
    write_leaderboard(rows, args.csv, markdown, args.md)


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--families", type=Path, nargs="+", required=True)
    p.add_argument("--samples", type=Path, nargs="+", required=True, help="same order")
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--features", type=Path, help="feature table (for units)")
    p.add_argument("--bins", type=int, default=50)
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--md", type=Path, required=True)
    p.add_argument("--features-plot", type=Path, required=True)
    p.add_argument("--metrics-plot", type=Path, required=True)
    run("leaderboard", main, p.parse_args())
