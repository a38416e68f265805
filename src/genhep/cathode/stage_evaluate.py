"""CATHODE stage: SIC and rejection curves of every method at one point."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep.cathode.files import ScoredEvents, read_events, read_scored
from genhep.cathode.sculpting import gap_edges, plot_sculpting_methods, sculpting
from genhep.cathode.search import method_bump_hunt, plot_bump_hunts
from genhep.cathode.sic import run_summary
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.plots import plot_sic_curves, text_figure
from genhep.settings.cathode import CathodeEvaluationSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

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
# The sculpting measurement (genhep.cathode.sculpting) on the held-out sideband events:
# cuts keeping these background efficiencies, each needing this many passing events, on
# about this many mjj bins.
SCULPTING_EFFICIENCIES = (0.1, 0.01, 0.001)
SCULPTING_MIN_EVENTS = 50
SCULPTING_BINS = 40


def json_safe(rows: list[dict]) -> list[dict]:
    """Sculpting rows with non-finite numbers (a cut that keeps nothing: threshold inf)
    as null, so that evaluation.json stays standard JSON."""
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in rows
    ]


def background_of(sideband: ScoredEvents) -> tuple[np.ndarray, np.ndarray]:
    """The mjj and the runs' mean score of the background events of a scored sideband
    set: sculpting is the change of the background's shape."""
    background = sideband.label == 0
    return sideband.mjj[background], sideband.scores.mean(axis=0)[background]


def sculpting_of(
    sidebands: dict[str, ScoredEvents], counts: dict[str, Any]
) -> tuple[dict[str, list[dict]], np.ndarray | None]:
    """Each method's sculpting rows ({method: rows}) from its scores on the held-out
    sideband background, cut on the runs' mean score; and the mjj edges, one set for
    every method (``gap_edges``: the SR and CWoLa's short sidebands, where no such event
    lies, are one empty bin)."""
    if not sidebands:
        return {}, None
    mjj = background_of(next(iter(sidebands.values())))[0]
    edges = gap_edges(mjj, counts["sb_holdout_gap"], SCULPTING_BINS)
    rows = {}
    for method, sideband in sidebands.items():
        m, s = background_of(sideband)
        rows[method] = json_safe(
            sculpting(m, s, SCULPTING_EFFICIENCIES, edges, SCULPTING_MIN_EVENTS)
        )
    return rows, edges


def method_scores(settings: CathodeEvaluationSettings, paths: Sequence[Path]) -> dict[str, Path]:
    """{method label: scores file}: the job's labels (``settings.methods``), one per file."""
    labels = list(settings.methods)
    if len(labels) != len(paths) or len(set(labels)) != len(labels):
        raise GenhepError(
            f"--scores: {len(paths)} file(s) for the method labels {labels} (--params"
            " methods): one distinct label per file, in order"
        )
    return dict(zip(labels, paths, strict=True))


def run(settings: CathodeEvaluationSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """Every method's SIC and rejection curves (median, 16–84% band over runs), max SIC
    above the FPR floor, AUC and the null check on the classifiers' check slice, for one
    point: ``inputs.scores`` (one file per method, labelled by ``settings.methods``),
    scored against the labels of ``inputs.test``; the point's ``inputs.counts`` go into
    ``outputs.evaluation`` beside them, the curves into ``curves``, ``sic`` and
    ``rejection``. For the methods whose scores file holds scores on the held-out sideband
    events and the SR check slice (``files.SCORED_SETS``): how a cut on the runs' mean
    score sculpts the background's mjj spectrum (``sculpting`` in each method's entry,
    plotted to ``sculpting``), and the bump hunt after such cuts (``bump_hunt``,
    ``genhep.cathode.search``; plotted to ``bumphunt``)."""
    score_paths = method_scores(settings, inputs.scores)
    labels = read_events(inputs.test).label
    counts = json.loads(Path(inputs.counts).read_text())
    tpr = np.linspace(0.0, 1.0, settings.tpr_points + 1)[1:]
    n_signal = int((labels == 1).sum())
    no_sic = None
    if n_signal < settings.min_signal:
        no_sic = (
            f"not applicable: the SR test set holds {n_signal} signal events (fewer than"
            f" cathode.evaluation.min_signal = {settings.min_signal}): a window without signal"
        )
    summaries, methods, sidebands, searches = {}, {}, {}, {}
    for method, path in score_paths.items():
        with h5py.File(path, "r") as f:
            scores = f["scores"][...]
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
            sideband, search = read_scored(f, "sideband"), read_scored(f, "search")
        if not attrs.get("applicable", True):  # stage_classify.not_applicable
            methods[method] = {"applicable": False, "reason": attrs["reason"], "runs": 0}
            continue
        if sideband is not None:
            sidebands[method] = sideband
            if search is not None:
                searches[method] = (sideband, search, attrs["search_fraction"])
        entry = {"runs": len(scores), **{k: attrs[k] for k in CHECK_KEYS if k in attrs}}
        if no_sic is None:
            s = run_summary(labels, scores, tpr, settings.min_background)
            summaries[method] = s
            entry |= {
                "max_sic": s["max_sic"].tolist(),
                "max_sic_ensemble": s["max_sic_ensemble"],
                "auc": s["auc"].tolist(),
            }
        else:
            entry |= {"max_sic": None, "max_sic_ensemble": None, "auc": None, "sic": no_sic}
        methods[method] = {"applicable": True, **entry}
    sculpted, edges = sculpting_of(sidebands, counts)
    for method, rows in sculpted.items():
        methods[method]["sculpting"] = rows
    for method, (sideband, search, fraction) in searches.items():
        methods[method]["bump_hunt"] = json_safe(
            method_bump_hunt(sideband, search, fraction, counts)
        )
    result = {
        **counts,
        "fpr_floor": settings.min_background / int((labels == 0).sum()),
        "test_signal": n_signal,
        "test_background": int((labels == 0).sum()),
        "sic": no_sic or "measured",
        "methods": methods,
    }
    with atomic_path(outputs.curves) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("tpr", data=tpr)
        f.attrs["sic"] = no_sic or "measured"
        for method, s in summaries.items():
            g = f.create_group(method)
            g.create_dataset("sic", data=s["sic"])  # rows: 16%, median, 84% over runs
            g.create_dataset("rejection", data=s["rejection"])
    title = (
        f"SR [{counts['sr'][0]:.2f}, {counts['sr'][1]:.2f}) TeV, {counts['signal_sr']} signal "
        f"in {counts['background_sr']} background (S/B {100 * counts['s_over_b']:.2f}%)"
    )
    for kind in ("sic", "rejection"):
        if summaries:
            with atomic_path(outputs[kind]) as tmp:
                plot_sic_curves(tpr, summaries, kind, tmp, title, result["fpr_floor"])
        else:
            text_figure(outputs[kind], f"{title}\n{kind}: {no_sic or 'no classifier'}")
    plot_point_sculpting(sidebands, edges, counts, outputs.sculpting)
    plot_bump_hunts(searches, counts, outputs.bumphunt)
    write_text_atomic(outputs.evaluation, json.dumps(result, indent=2))
    for method, m in methods.items():
        if m.get("max_sic") is not None:
            lo, mid, hi = m["max_sic"]
            log.info("%s: max SIC %.2f [%.2f, %.2f]", method, mid, lo, hi)
        else:
            log.info("%s: SIC %s", method, m.get("sic") or m.get("reason"))
        for r in m.get("sculpting", []):
            if r["skipped"] is None:
                log.info(
                    "%s: sculpting at background efficiency %g: chi2/ndf %.2f (p %.2g),"
                    " JSD %.2e (shuffled %.2e)",
                    method,
                    r["efficiency"],
                    r["chi2_ndf"],
                    r["p_value"],
                    r["jsd"],
                    r["jsd_null"],
                )
    return result


def plot_point_sculpting(sidebands, edges, counts, path) -> None:
    """The sculpting figure of a point: a panel per method with sideband scores. Without
    any (only supervised and ANODE asked for), one that says so: the output exists."""
    if not sidebands:
        text_figure(path, "no method with held-out sideband scores")
        return
    panels = {method: background_of(sideband) for method, sideband in sidebands.items()}
    n = len(next(iter(panels.values()))[0])
    title = (
        f"held-out sideband background ({n} events outside"
        f" [{counts['sb_holdout_gap'][0]:.2f}, {counts['sb_holdout_gap'][1]:.2f}) TeV),"
        f" {counts['signal_injected']} signal injected"
    )
    # Only the cuts measured (those keeping enough events); the loosest always drawn.
    shown = [e for e in SCULPTING_EFFICIENCIES if round(e * n) >= SCULPTING_MIN_EVENTS]
    plot_sculpting_methods(panels, shown or SCULPTING_EFFICIENCIES[:1], path, title, edges=edges)


STAGE = Stage(
    "cathode_evaluate",
    run,
    CathodeEvaluationSettings,
    inputs=("scores*", "test", "counts"),
    outputs=("evaluation", "curves", "sic", "rejection", "sculpting", "bumphunt"),
    description="CATHODE: SIC and rejection curves of every method at one search point, and"
    " the sculpting of the sideband background by cuts on their scores.",
)
