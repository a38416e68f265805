"""The leaderboard: every family's evaluation as one table, in CSV and Markdown.

The truth-vs-truth row (two halves of the held-out data) comes first: what a perfect
generator reaches. The CSV has every metric, the Markdown the headline columns
(:data:`HEADLINE`) and the 1-Wasserstein distance per feature.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

import numpy as np

from genhep.contracts import generated_table, load_split
from genhep.evaluate import truth_table
from genhep.io.atomic import write_text_atomic
from genhep.io.hdf5 import column_units
from genhep.plots import plot_feature_histograms, plot_metric_bars
from genhep.settings.evaluation import LeaderboardSettings
from genhep.stage import Files, Stage

# (key, heading): the Markdown table's headline columns; the CSV has every metric.
HEADLINE = [
    ("auc_gbdt", "AUC GBDT"),
    ("auc_mlp", "AUC MLP"),
    ("fpd", "FPD"),
    ("kpd", "KPD"),
    ("w1_mean_norm", "W1/σ mean"),
    ("ks_max", "KS max"),
    ("td_mean", "TD mean"),
    ("corr_max", "Δcorr max"),
    ("nll_preprocessed", "NLL preproc."),
    ("nll_physical", "NLL phys."),
    ("unphysical_fraction", "unphysical"),
]
ERRORS = {"fpd": "fpd_err", "kpd": "kpd_err"}


def leaderboard_rows(truth: dict[str, Any], families: list[dict[str, Any]]) -> list[dict]:
    """One flat row per family, the truth-vs-truth row first."""
    rows = [
        {
            "family": "truth vs truth",
            **truth["metrics"],
            "nll_preprocessed": None,
            "nll_physical": None,
            **unphysical_columns(truth),
        }
    ]
    for result in families:
        rows.append(
            {
                "family": result["family"],
                **result["metrics"],
                "nll_preprocessed": result["nll_preprocessed"],
                "nll_physical": result["nll_physical"],
                "nll_kind": result["nll_kind"],
                **unphysical_columns(result),
                "training_seconds": result["training_seconds"],
                "training_device": result["training_device"],
                "sample_events_per_second": result["sample_events_per_second"],
                "sample_device": result["sample_device"],
            }
        )
    return rows


def unphysical_columns(result: dict[str, Any]) -> dict[str, Any]:
    """The leaderboard's columns for an evaluation's unphysical-event count."""
    counts = result.get("unphysical")
    if counts is None:
        return {"unphysical_events": None, "unphysical_fraction": None}
    return {
        "unphysical_events": counts["events"],
        "unphysical_fraction": counts["fraction"],
        **{f"unphysical_{c}": k for c, k in counts["per_column"].items()},
    }


def _fmt(value: Any, digits: int = 3) -> str:
    """``digits`` significant digits; scientific notation for very small or large values."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, str):
        return value
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def leaderboard_markdown(rows: list[dict], columns: list[str], n_compared: int) -> str:
    head = ["family"] + [h for _, h in HEADLINE] + ["train s", "train device", "sample ev/s"]
    lines = [
        f"# genhep leaderboard ({n_compared:,} generated vs {n_compared:,} held-out events)",
        "",
        "| " + " | ".join(head) + " |",
        "|---" + "|---:" * (len(head) - 1) + "|",
    ]
    for r in rows:
        cells = [r["family"]]
        for key, _ in HEADLINE:
            text = _fmt(r.get(key))
            if key in ERRORS and r.get(key) is not None:
                text += f" ± {_fmt(r[ERRORS[key]], 2)}"
            if key.startswith("nll_") and r.get("nll_kind") == "elbo_bound":
                text += " (≥, ELBO)"
            cells.append(text)
        cells += [
            _fmt(r.get("training_seconds")),
            r.get("training_device", "–"),
            _fmt(r.get("sample_events_per_second")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "AUC: classifier two-sample test, out of fold (0.5 = indistinguishable from the "
        "held-out data). FPD/KPD: JetNet's Fréchet and kernel physics distances. W1/σ: "
        "1-Wasserstein distance per feature over the truth's standard deviation, averaged. "
        "KS: Kolmogorov-Smirnov statistic. TD: triangular discrimination of the histograms. "
        "Δcorr: largest difference of the correlation matrices. NLL: test-set negative "
        "log-likelihood of the features given the context, nats per event, in the "
        "preprocessed space the models are trained in (preproc.) and in physical units "
        "(phys.: masses in TeV, τ21 dimensionless), NLL phys. = NLL preproc. − mean "
        "log|det ∂y/∂x| of the feature transform; ≥ marks the VAE's negative ELBO, an "
        "upper bound. unphysical: fraction of all generated events with a feature outside "
        "its physical range (masses < 0, τ21 outside [0, 1]). The truth-vs-truth row "
        "compares two halves of the held-out data: what a perfect generator reaches.",
        "",
        "## 1-Wasserstein distance per feature (physical units)",
        "",
        "| family | " + " | ".join(columns) + " |",
        "|---" + "|---:" * len(columns) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['family']} | " + " | ".join(_fmt(r.get(f"w1_{c}")) for c in columns) + " |"
        )
    return "\n".join(lines) + "\n"


def write_leaderboard(rows: list[dict], csv_path: str | os.PathLike, md_text: str, md_path):
    """The rows as CSV (every key of any row, in order of first appearance; None as an
    empty cell) and ``md_text`` as Markdown, each written atomically."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else r[k] for k in keys})
    write_text_atomic(csv_path, out.getvalue())
    write_text_atomic(md_path, md_text)


# (metric, label) of the leaderboard's bar chart.
BARS = [("auc_gbdt", "classifier AUC (GBDT)"), ("fpd", "FPD"), ("w1_mean_norm", "mean W1 / σ")]


def run(settings: LeaderboardSettings, inputs: Files, outputs: Files) -> None:
    """The leaderboard stage: the truth row ``inputs.truth`` and every family's metrics
    ``inputs.families`` (their samples ``inputs.samples`` in the same order) as
    ``outputs.csv`` and ``outputs.md``; the families' features side by side against the
    test split ``inputs.test`` (units from ``inputs.features``, when given) in
    ``outputs.features_plot``, the headline metrics in ``outputs.metrics_plot``."""
    truth = json.loads(inputs.truth.read_text())
    families = [json.loads(p.read_text()) for p in inputs.families]
    rows = leaderboard_rows(truth, families)
    columns = truth["columns"]
    markdown = leaderboard_markdown(rows, columns, truth["n_compared"])
    columns, reference, pool = truth_table(load_split(inputs.test))
    generated = {
        result["family"]: generated_table(path, columns, len(pool))
        for result, path in zip(families, inputs.samples, strict=True)
    }
    units = column_units(inputs.features, columns) if inputs.features else {}
    plot_feature_histograms(
        reference,
        generated,
        columns,
        units,
        outputs.features_plot,
        "all families",
        settings.bins,
    )
    plot_metric_bars(rows, BARS, outputs.metrics_plot)
    write_leaderboard(rows, outputs.csv, markdown, outputs.md)


STAGE = Stage(
    "leaderboard",
    run,
    LeaderboardSettings,
    inputs=("truth", "families*", "samples*", "test", "features?"),
    outputs=("csv", "md", "features_plot", "metrics_plot"),
    description="Collect every family's metrics into the leaderboard, and plot the "
    "families side by side.",
)
