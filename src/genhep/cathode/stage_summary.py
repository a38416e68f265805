"""CATHODE stage: max SIC vs S/B over every search point, one line per method and family."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genhep.cathode.search import plot_significance_scan, significance_rows
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.plots import plot_max_sic_scan, text_figure
from genhep.stage import Files, Stage

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
    # the sculpting of the held-out sideband background (sculpting_row); empty without it
    "sculpting_efficiency",
    "sculpting_passing",
    "sculpting_chi2_ndf",
    "sculpting_p_value",
    "sculpting_jsd",
    "sculpting_jsd_null",
    # the bump hunt (genhep.cathode.search.significance_rows); empty without it
    "z_no_cut",
    "bump_efficiency",
    "bump_n_obs",
    "bump_b",
    "bump_sigma_b",
    "bump_z",
    "bump_z_simple",
    # why a method has no SIC or no scores at a point (a window without signal)
    "not_applicable",
)
SCULPTING_EFFICIENCY = 0.01  # the summary's cut; a tighter one where that is skipped
NULL_PULL_LIMIT = 3.0  # a background template whose null check is pulled above this fails


def sculpting_row(rows: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The summary's sculpting columns of a method: its row at ``SCULPTING_EFFICIENCY``,
    else the tightest cut that kept enough events; all None without any (supervised and
    ANODE, which are not scored on the sidebands, or no cut measured)."""
    measured = [r for r in rows or () if r.get("skipped") is None]
    at = [r for r in measured if r["efficiency"] == SCULPTING_EFFICIENCY]
    tightest = sorted(measured, key=lambda r: r["efficiency"])[:1]
    row = (at or tightest or [None])[0]
    keys = ("efficiency", "passing", "chi2_ndf", "p_value", "jsd", "jsd_null")
    return {f"sculpting_{k}": (row[k] if row else None) for k in keys}


def _band(m: Mapping[str, Any], key: str, i: int) -> float | None:
    """Entry ``i`` (16%, median, 84%) of a method's ``key`` band; None without it."""
    values = m.get(key)
    return None if values is None else values[i]


def summary_rows(evaluations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per method and point; a method or a SIC not applicable at a point (a window
    without signal) has empty SIC columns and says why in ``not_applicable``."""
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
                    "max_sic_median": _band(m, "max_sic", 1),
                    "max_sic_16": _band(m, "max_sic", 0),
                    "max_sic_84": _band(m, "max_sic", 2),
                    "max_sic_ensemble": m.get("max_sic_ensemble"),
                    "auc_median": _band(m, "auc", 1),
                    # NaN/None for methods without a classifier (ANODE)
                    "check_auc": m.get("check_auc", float("nan")),
                    "null_pull": m.get("null_pull", float("nan")),
                    "null_sigma": m.get("null_sigma", float("nan")),
                    "n_check_label1": m.get("n_check_label1"),
                    "n_check_label0": m.get("n_check_label0"),
                    "fpr_floor": e["fpr_floor"],
                    "runs": m["runs"],
                    **sculpting_row(m.get("sculpting")),
                    **significance_rows(m.get("bump_hunt")),
                    "not_applicable": m.get("reason") or m.get("sic"),
                }
            )
    return sorted(rows, key=lambda r: (r["method"], r["window"], r["seed"], r["signal_injected"]))


def _f(value: Any, spec: str) -> str:
    """``value`` formatted by ``spec``; n/a where it is missing (not applicable there)."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return format(value, spec)


def template_failures(rows: Sequence[Mapping[str, Any]]) -> dict[tuple, float]:
    """{(method, window, seed): null pull} of the background models (CATHODE and
    LaCATHODE, per family) whose template fails the null check at zero injected signal:
    the classifier tells it from the data by more than ``NULL_PULL_LIMIT`` null standard
    deviations. Their rows are flagged, never silently averaged in."""
    return {
        (r["method"], r["window"], r["seed"]): r["null_pull"]
        for r in rows
        if r["method"].split("_")[0] in ("cathode", "lacathode")
        and r["signal_injected"] == 0
        and r["null_pull"] is not None
        and r["null_pull"] > NULL_PULL_LIMIT
    }


def summary_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    failed = template_failures(rows)
    lines = [
        "# CATHODE search: max SIC per method and point",
        "",
        "Max SIC = max over working points of TPR/sqrt(FPR), with FPR above the floor set by "
        "the test statistics; median and 16-84% band over the classifier runs. "
        "Check AUC: label 1 vs label 0 on a check slice held out from every classifier "
        "run (never trained on, never used to choose epochs), scored by the runs' mean "
        "prediction: 0.5 when the template is indistinguishable from the data; null pull: "
        "its distance from 0.5 in units of its spread under the null, from the check "
        "slice's own counts. n/a: not applicable (a window without signal has no SIC and "
        "no supervised classifier). Flag: the background model's template fails the null "
        f"check (pull above {NULL_PULL_LIMIT:g} at zero injected signal) at that window "
        "and seed: its numbers there rest on a template that is not the background.",
        "",
        "| method | SR centre [TeV] | seed | injected | S in SR | B in SR | S/B [%] | S/sqrt(B) "
        "| max SIC (median [16%, 84%]) | ensemble | test AUC | check AUC (null pull) | FPR floor "
        "| flag |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---|",
    ]
    for r in rows:
        pull = failed.get((r["method"], r["window"], r["seed"]))
        flag = "" if pull is None else f"template fails the null check ({pull:+.1f})"
        sic = "n/a"
        if r["max_sic_median"] is not None:
            sic = f"{r['max_sic_median']:.2f} [{r['max_sic_16']:.2f}, {r['max_sic_84']:.2f}]"
        lines.append(
            f"| {r['method']} | {r['window']:.2f} | {r['seed']} | {r['signal_injected']} "
            f"| {r['signal_sr']} | {r['background_sr']} | {100 * r['s_over_b']:.2f} "
            f"| {r['s_over_sqrt_b']:.2f} | {sic} | {_f(r['max_sic_ensemble'], '.2f')} "
            f"| {_f(r['auc_median'], '.3f')} "
            f"| {_f(r['check_auc'], '.3f')} ({_f(r['null_pull'], '+.1f')}) "
            f"| {_f(r['fpr_floor'], '.1e')} | {flag} |"
        )
    return "\n".join(lines + sculpting_markdown(rows) + significance_markdown(rows)) + "\n"


def significance_markdown(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The bump-hunt table's lines: per method and point, the local significance with no
    cut and after the tightest fitted cut (none if no method has a bump hunt)."""
    measured = [r for r in rows if r["z_no_cut"] is not None]
    if not measured:
        return []
    lines = [
        "",
        "## Bump hunt: local significance in the SR",
        "",
        "Cut on the runs' mean score at a sideband efficiency (the tightest of 0.1 and 0.01 "
        "that leaves enough events to fit), fit the dijet function to the mjj spectrum "
        "outside the SR and CWoLa's short sidebands, and compare the SR count (the SR data "
        "of the classifiers' check slice: events no run trained on) with the fit's "
        "prediction b ± sigma_b (scaled to the slice). Z: the profile-likelihood "
        "significance of that count with b's uncertainty (Cowan et al., arXiv 1007.1727), "
        "negative for a deficit. No cut: the same without any classifier. True S/sqrt(B): "
        "the slice's true signal and background after the cut, for comparison.",
        "",
        "| method | SR centre [TeV] | seed | injected | Z no cut | efficiency | n in SR "
        "| b ± sigma_b | Z | true S/sqrt(B) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in measured:
        b = "n/a"
        if r["bump_b"] is not None:
            b = f"{r['bump_b']:.1f} ± {r['bump_sigma_b']:.1f}"
        lines.append(
            f"| {r['method']} | {r['window']:.2f} | {r['seed']} | {r['signal_injected']} "
            f"| {r['z_no_cut']:+.2f} | {_f(r['bump_efficiency'], 'g')} "
            f"| {_f(r['bump_n_obs'], 'd')} | {b} | {_f(r['bump_z'], '+.2f')} "
            f"| {_f(r['bump_z_simple'], '.2f')} |"
        )
    return lines


def sculpting_markdown(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The second table's lines: the sculpting per method and point (none if no method
    was scored on the sidebands)."""
    measured = [r for r in rows if r["sculpting_efficiency"] is not None]
    if not measured:
        return []
    lines = [
        "",
        f"## Sculpting at {100 * SCULPTING_EFFICIENCY:g}% background efficiency",
        "",
        "Each classifier scores the point's sideband background events that no classifier "
        "trained on (outside CWoLa's short sidebands); the cut on the runs' mean score keeps "
        "that fraction of them (or the tightest cut that keeps enough events: its "
        "efficiency is given). chi2/ndf and p: passing vs failing mjj spectra (no "
        "sculpting: chi2/ndf ~ 1); JSD: Jensen-Shannon divergence of the mjj spectrum after "
        "the cut vs before it, in bits, next to its value for a random cut of the same "
        "size (shuffled scores): only a JSD well above that is sculpting (LaCATHODE, "
        "Hallin et al., arXiv 2210.14924).",
        "",
        "| method | SR centre [TeV] | seed | injected | efficiency | passing | chi2/ndf | p "
        "| JSD | JSD shuffled |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in measured:
        lines.append(
            f"| {r['method']} | {r['window']:.2f} | {r['seed']} | {r['signal_injected']} "
            f"| {r['sculpting_efficiency']:g} | {r['sculpting_passing']} "
            f"| {r['sculpting_chi2_ndf']:.2f} | {r['sculpting_p_value']:.2g} "
            f"| {r['sculpting_jsd']:.2e} | {r['sculpting_jsd_null']:.2e} |"
        )
    return lines


def run(settings: None, inputs: Files, outputs: Files) -> list[dict[str, Any]]:
    """One row per method and point of ``inputs.evaluations`` (each a point's
    evaluation.json): a CSV table (``outputs.csv``), a Markdown one (``md``, with a second
    table of the sculpting at 1% background efficiency and a third of the bump hunt), the
    max SIC scan (``plot``) and the local significance per window (``significance``)."""
    rows = summary_rows([json.loads(Path(p).read_text()) for p in inputs.evaluations])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(outputs.csv, out.getvalue())
    write_text_atomic(outputs.md, summary_markdown(rows))
    with_sic = [r for r in rows if r["max_sic_median"] is not None]
    if with_sic:
        with atomic_path(outputs.plot) as tmp:
            plot_max_sic_scan(with_sic, tmp)
    else:
        text_figure(outputs.plot, "no point with signal in its SR: no SIC to plot")
    plot_significance_scan(rows, outputs.significance)
    return rows


STAGE = Stage(
    "cathode_summary",
    run,
    None,
    inputs=("evaluations*",),
    outputs=("csv", "md", "plot", "significance"),
    description="CATHODE: max SIC vs S/B over every search point, one line per method and family.",
)
