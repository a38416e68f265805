"""CATHODE stages: SIC and rejection curves of one point, and the summary over points."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep.cathode.files import read_events
from genhep.cathode.sic import run_summary
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.plots import plot_sic_curves

# A classifier's null check and sizes, as its scores file's attributes carry them.
CHECK_KEYS = (
    "check_auc",
    "null_sigma",
    "null_pull",
    "n_check_label1",
    "n_check_label0",
    "n_label1",
    "n_label0",
)


def evaluate_point(
    score_paths: Mapping[str, str | os.PathLike],
    test_path,
    counts_path,
    outputs: Mapping[str, Path],
    p: Mapping[str, Any],
) -> dict[str, Any]:
    """Every method's SIC and rejection curves (median, 16–84% band over runs), max SIC
    above the FPR floor, AUC and the null check on the classifiers' check slice, for one
    point."""
    labels = read_events(test_path).label
    counts = json.loads(Path(counts_path).read_text())
    tpr = np.linspace(0.0, 1.0, p["tpr_points"] + 1)[1:]
    summaries, methods = {}, {}
    for method, path in score_paths.items():
        with h5py.File(path, "r") as f:
            scores = f["scores"][...]
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        s = run_summary(labels, scores, tpr, p["min_background"])
        summaries[method] = s
        methods[method] = {
            "max_sic": s["max_sic"].tolist(),
            "max_sic_ensemble": s["max_sic_ensemble"],
            "auc": s["auc"].tolist(),
            "runs": s["runs"],
            **{k: attrs[k] for k in CHECK_KEYS if k in attrs},
        }
    first = next(iter(summaries.values()))
    result = {
        **counts,
        "fpr_floor": first["fpr_floor"],
        "test_signal": first["n_signal"],
        "test_background": first["n_background"],
        "methods": methods,
    }
    with atomic_path(outputs["curves"]) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("tpr", data=tpr)
        for method, s in summaries.items():
            g = f.create_group(method)
            g.create_dataset("sic", data=s["sic"])  # rows: 16%, median, 84% over runs
            g.create_dataset("rejection", data=s["rejection"])
    title = (
        f"SR [{counts['sr'][0]:.2f}, {counts['sr'][1]:.2f}) TeV, {counts['signal_sr']} signal "
        f"in {counts['background_sr']} background (S/B {100 * counts['s_over_b']:.2f}%)"
    )
    for kind in ("sic", "rejection"):
        with atomic_path(outputs[kind]) as tmp:
            plot_sic_curves(tpr, summaries, kind, tmp, title, first["fpr_floor"])
    write_text_atomic(outputs["evaluation"], json.dumps(result, indent=2))
    return result


# --- the summary over points -----------------------------------------------------------------

SUMMARY_COLUMNS = (
    "method",
    "window",
    "seed",
    "signal_injected",
    "signal_sr",
    "background_sr",
    "s_over_b",
    "s_over_sqrt_b",
    "max_sic_median",
    "max_sic_16",
    "max_sic_84",
    "max_sic_ensemble",
    "auc_median",
    "check_auc",
    "null_pull",
    "null_sigma",
    "n_check_label1",
    "n_check_label0",
    "fpr_floor",
    "runs",
)


def summary_rows(evaluations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in evaluations:
        for method, m in e["methods"].items():
            rows.append(
                {
                    "method": method,
                    "window": e["window"],
                    "seed": e["seed"],
                    "signal_injected": e["signal_injected"],
                    "signal_sr": e["signal_sr"],
                    "background_sr": e["background_sr"],
                    "s_over_b": e["s_over_b"],
                    "s_over_sqrt_b": e["s_over_sqrt_b"],
                    "max_sic_median": m["max_sic"][1],
                    "max_sic_16": m["max_sic"][0],
                    "max_sic_84": m["max_sic"][2],
                    "max_sic_ensemble": m["max_sic_ensemble"],
                    "auc_median": m["auc"][1],
                    # NaN/None for methods without a classifier (ANODE)
                    "check_auc": m.get("check_auc", float("nan")),
                    "null_pull": m.get("null_pull", float("nan")),
                    "null_sigma": m.get("null_sigma", float("nan")),
                    "n_check_label1": m.get("n_check_label1"),
                    "n_check_label0": m.get("n_check_label0"),
                    "fpr_floor": e["fpr_floor"],
                    "runs": m["runs"],
                }
            )
    return sorted(rows, key=lambda r: (r["method"], r["window"], r["seed"], r["signal_injected"]))


def summary_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "# CATHODE search: max SIC per method and point",
        "",
        "Max SIC = max over working points of TPR/sqrt(FPR), with FPR above the floor set by "
        "the test statistics; median and 16-84% band over the classifier runs. "
        "Check AUC: label 1 vs label 0 on a check slice held out from every classifier "
        "run (never trained on, never used to choose epochs), scored by the runs' mean "
        "prediction: 0.5 when the template is indistinguishable from the data; null pull: "
        "its distance from 0.5 in units of its spread under the null, from the check "
        "slice's own counts.",
        "",
        "| method | SR centre [TeV] | seed | injected | S in SR | B in SR | S/B [%] | S/sqrt(B) "
        "| max SIC (median [16%, 84%]) | ensemble | test AUC | check AUC (null pull) | FPR floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['window']:.2f} | {r['seed']} | {r['signal_injected']} "
            f"| {r['signal_sr']} | {r['background_sr']} | {100 * r['s_over_b']:.2f} "
            f"| {r['s_over_sqrt_b']:.2f} "
            f"| {r['max_sic_median']:.2f} [{r['max_sic_16']:.2f}, {r['max_sic_84']:.2f}] "
            f"| {r['max_sic_ensemble']:.2f} | {r['auc_median']:.3f} "
            f"| {r['check_auc']:.3f} ({r['null_pull']:+.1f}) | {r['fpr_floor']:.1e} |"
        )
    return "\n".join(lines) + "\n"
