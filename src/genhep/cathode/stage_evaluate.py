"""CATHODE stage: SIC and rejection curves of every method at one point."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep.cathode.files import read_events
from genhep.cathode.sic import run_summary
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.plots import plot_sic_curves
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
    ``rejection``."""
    score_paths = method_scores(settings, inputs.scores)
    labels = read_events(inputs.test).label
    counts = json.loads(Path(inputs.counts).read_text())
    tpr = np.linspace(0.0, 1.0, settings.tpr_points + 1)[1:]
    summaries, methods = {}, {}
    for method, path in score_paths.items():
        with h5py.File(path, "r") as f:
            scores = f["scores"][...]
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        s = run_summary(labels, scores, tpr, settings.min_background)
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
    with atomic_path(outputs.curves) as tmp, h5py.File(tmp, "w") as f:
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
    write_text_atomic(outputs.evaluation, json.dumps(result, indent=2))
    for method, m in methods.items():
        lo, mid, hi = m["max_sic"]
        log.info("%s: max SIC %.2f [%.2f, %.2f]", method, mid, lo, hi)
    return result


STAGE = Stage(
    "cathode_evaluate",
    run,
    CathodeEvaluationSettings,
    inputs=("scores*", "test", "counts"),
    outputs=("evaluation", "curves", "sic", "rejection"),
    description="CATHODE: SIC and rejection curves of every method at one search point.",
)
