"""The amplification study's report: the summary table (CSV, Markdown) and the figure of
quantile MSE against sample size (as Fig. 2 of arXiv 2008.06545), from the per-family
results of ``genhep.amplification.study.run_family``."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from genhep.amplification.truth import expected_true_mse, spread
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.stage import Files, Stage

matplotlib.use("Agg")  # files only, no display (pyplot picks its backend at first use)

log = logging.getLogger("genhep")

FIT_NAME = "2-Gaussian fit"
TRAIN_NAME = "training sample"


def summarise(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows: one per family, then the fit and the training sample.

    Columns: name, seeds, amplification median and 16/84 % quantiles over seeds, and the
    median quantile MSE at each generated size N ("mse_N"). The fit and the training
    sample are the same for every family (same seeds, same points): taken once per seed.
    """
    if not results:
        raise GenhepError("no amplification results to summarise")
    first = results[0]
    for r in results[1:]:
        if (r["n_train"], r["quantiles"], r["n_generated"]) != (
            first["n_train"],
            first["quantiles"],
            first["n_generated"],
        ):
            raise GenhepError(
                f"amplification results of {first['family']} and {r['family']} differ in "
                "n_train, quantiles or n_generated: rerun them with the same settings"
            )
    sizes = first["n_generated"]
    rows = []
    for r in results:
        row = {"name": r["family"], "seeds": len(r["seeds"])}
        row |= {f"amplification_{k}": v for k, v in r["summary"]["model"].items()}
        mse = np.median([s["model_mse"] for s in r["seeds"]], axis=0)
        row |= {f"mse_{n}": float(m) for n, m in zip(sizes, mse, strict=True)}
        row["seconds"] = r["seconds"]
        rows.append(row)
    by_seed = {s["seed"]: s for r in results for s in r["seeds"]}
    seeds = [by_seed[k] for k in sorted(by_seed)]
    fit = {"name": FIT_NAME, "seeds": len(seeds)}
    fit |= {
        f"amplification_{k}": v for k, v in spread([s["fit_amplification"] for s in seeds]).items()
    }
    mse = np.median([s["fit_mse"] for s in seeds], axis=0)
    fit |= {f"mse_{n}": float(m) for n, m in zip(sizes, mse, strict=True)}
    train = {"name": TRAIN_NAME, "seeds": len(seeds)}
    train |= {
        f"amplification_{k}": v
        for k, v in spread([s["train_amplification"] for s in seeds]).items()
    }
    train |= {f"mse_{n}": None for n in sizes}
    train[f"mse_{first['n_train']}"] = float(np.median([s["train_mse"] for s in seeds]))
    return rows + [fit, train]


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def rows_to_markdown(rows: list[dict[str, Any]], q: int, n_train: int) -> str:
    sizes = [k.removeprefix("mse_") for k in rows[0] if k.startswith("mse_")]
    head = ["", "seeds", "amplification (median [16%, 84%])"] + [f"MSE N={n}" for n in sizes]
    lines = [
        f"Quantile MSE with Q = {q} bins, {n_train} training points; "
        "amplification = N_equiv / n_train at the largest N.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        amp = (
            f"{r['amplification_median']:.2f} "
            f"[{r['amplification_q16']:.2f}, {r['amplification_q84']:.2f}]"
        )
        mses = ["" if r.get(f"mse_{n}") is None else f"{r[f'mse_{n}']:.2e}" for n in sizes]
        lines.append("| " + " | ".join([r["name"], str(r["seeds"]), amp, *mses]) + " |")
    return "\n".join(lines) + "\n"


def plot_quantile_mse(results: Sequence[dict[str, Any]], path: Any) -> None:
    """Quantile MSE vs N, log-log (as Fig. 2 of the paper): per family the median over seeds
    with its 16-84 % band, the 2-Gaussian fit, the training sample and E[MSE_true](N)."""
    first = results[0]
    sizes = np.array(first["n_generated"])
    q, n_train = first["quantiles"], first["n_train"]
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    grid = np.geomspace(min(sizes.min(), n_train) / 2, sizes.max() * 2, 50)
    ax.plot(grid, expected_true_mse(grid, q), color="black", lw=1.5, label="true sample, E[MSE](N)")

    def band(curves: np.ndarray, label: str, **style: Any) -> None:
        lo, mid, hi = np.quantile(curves, [0.16, 0.5, 0.84], axis=0)
        (line,) = ax.plot(sizes, mid, marker="o", ms=3, label=label, **style)
        ax.fill_between(sizes, lo, hi, color=line.get_color(), alpha=0.1)

    for r in results:
        band(np.array([s["model_mse"] for s in r["seeds"]]), r["family"])
    by_seed = {s["seed"]: s for r in results for s in r["seeds"]}
    band(np.array([s["fit_mse"] for s in by_seed.values()]), FIT_NAME, color="black", ls="--")
    train = np.array([s["train_mse"] for s in by_seed.values()])
    ax.axhline(np.median(train), color="grey", ls=":", label=f"{TRAIN_NAME} ({n_train} points)")
    ax.errorbar(
        [n_train],
        [np.median(train)],
        yerr=[
            [np.median(train) - np.quantile(train, 0.16)],
            [np.quantile(train, 0.84) - np.median(train)],
        ],
        fmt="s",
        color="grey",
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="number of points N",
        ylabel=f"quantile MSE ({q} quantiles)",
        title=f"Amplification: camel back, {n_train} training points, {len(by_seed)} seeds",
    )
    ax.legend(fontsize=8, ncol=2)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def load_result(path: Path) -> dict[str, Any]:
    """One family's result (the ``amplify`` stage's output); a file that is none is an
    error naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise GenhepError(f"{path}: not an amplification result: {err}") from err


def run(settings: None, inputs: Files, outputs: Files) -> list[dict[str, Any]]:
    """The summary stage: the families' results ``inputs.results`` as the table
    ``outputs.csv`` and ``outputs.md`` and the quantile-MSE figure ``outputs.plot`` (PNG);
    the stage takes no settings."""
    results = [load_result(path) for path in inputs.results]
    rows = summarise(results)
    first = results[0]
    write_text_atomic(outputs.csv, rows_to_csv(rows))
    write_text_atomic(outputs.md, rows_to_markdown(rows, first["quantiles"], first["n_train"]))
    with atomic_path(outputs.plot) as tmp:
        plot_quantile_mse(results, tmp)
    for row in rows:
        log.info(
            "%-16s amplification %6.2f [%.2f, %.2f]",
            row["name"],
            row["amplification_median"],
            row["amplification_q16"],
            row["amplification_q84"],
        )
    return rows


STAGE = Stage(
    "amplification_summary",
    run,
    None,
    inputs=("results*",),
    outputs=("csv", "md", "plot"),
    description="Summarise the amplification study: a table (CSV and Markdown) and the "
    "quantile-MSE figure (as Fig. 2 of arXiv 2008.06545).",
)
