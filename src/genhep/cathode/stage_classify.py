"""CATHODE stage: one method's classifier ensemble (CATHODE, idealized, supervised, CWoLa)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from genhep.cathode.classifier import ClassifierResult, train_anomaly_classifier
from genhep.cathode.datasets import Events
from genhep.cathode.files import ScoredEvents, read_events, write_scores
from genhep.settings.cathode import ClassifyJobSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")


def run(s: ClassifyJobSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """Train a method's classifier ensemble, ``inputs.label1`` against ``inputs.label0``,
    and write its scores on ``inputs.test`` (runs × n_test) to ``outputs.scores``, with
    its null check on the check slice held out from every run (``null_check``). With
    ``inputs.sideband`` (the point's held-out sideband background, ``sb_holdout``), its
    scores on those events too (runs × n, their mjj and labels), for the sculpting
    measurement and the bump hunt's fit, and those of the SR data in the check slice
    (``search_slice``), for the bump hunt's SR count.

    ``s.label0_ratio`` caps the label-0 set at that multiple of label 1 (the idealized
    detector's true background is as large as CATHODE's template, no larger).
    """
    x1, x0, test = (read_events(p) for p in (inputs.label1, inputs.label0, inputs.test))
    if len(x1) == 0:
        return not_applicable(s, inputs, outputs)
    sideband = read_events(inputs.sideband) if inputs.sideband is not None else None
    if s.label0_ratio is not None and len(x0) > s.label0_ratio * len(x1):
        x0 = x0.take(np.arange(int(round(s.label0_ratio * len(x1)))))
    # The sideband events are scored apart from the test set, after it: the test scores
    # are those of a job without them (pinned: tests/test_cathode_sculpting.py).
    result = train_anomaly_classifier(
        x1.x, x0.x, test.x, s, x_extra=None if sideband is None else sideband.x
    )
    check = result.null_check()
    info = {
        "method": s.method,
        "n_label1": len(x1),
        "n_label0": len(x0),
        "runs": s.runs,
        "check_fraction": s.check_fraction,
        **check,
    }
    per_run = {
        "check_auc_per_run": result.check_auc_per_run,
        "selection_auc_per_run": result.selection_auc,  # biased: those events chose the epochs
    }
    scored = {}
    if sideband is not None:
        scored["sideband"] = ScoredEvents(result.extra_scores, sideband.mjj, sideband.label)
        scored["search"] = search_slice(result, x1)
        info["n_sideband"] = len(sideband)
        info["search_fraction"] = len(scored["search"].mjj) / len(x1)
    write_scores(outputs.scores, result.scores, info, per_run, scored)
    log.info(
        "%s: %d vs %d events, %d runs; check AUC %.4f on %d vs %d held-out events"
        " (null spread %.4f, pull %+.1f)",
        s.method,
        len(x1),
        len(x0),
        s.runs,
        check["check_auc"],
        check["n_check_label1"],
        check["n_check_label0"],
        check["null_sigma"],
        check["null_pull"],
    )
    return info


def not_applicable(s: ClassifyJobSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """A job with no label-1 events: the supervised classifier in a window without signal
    (most windows of a search). It writes a scores file with no runs that says why, and
    the evaluation reports the method as not applicable there: not an error."""
    reason = f"{inputs.label1} holds no events (label 1 of {s.method}): no signal in this SR"
    info = {"method": s.method, "runs": 0, "applicable": False, "reason": reason}
    n_test = len(read_events(inputs.test))
    write_scores(outputs.scores, np.empty((0, n_test), dtype=np.float32), info)
    log.info("%s: not applicable: %s", s.method, reason)
    return info


def search_slice(result: ClassifierResult, label1: Events) -> ScoredEvents:
    """The label-1 events of the check slice (for CATHODE and its baselines: SR data) and
    the runs' scores on them: no run trained on them or chose its epochs with them, so
    a cut on these scores selects events as it would unseen data. The bump hunt counts
    them in the SR; they are a random ``check_fraction`` of the SR data (exactly
    ``search_fraction``), by which it scales the fitted background."""
    ones = result.check_labels == 1
    rows = result.check_index[ones]  # label 1 comes first in the check slice's rows
    return ScoredEvents(result.check_scores[:, ones], label1.mjj[rows], label1.label[rows])


STAGE = Stage(
    "cathode_classify",
    run,
    ClassifyJobSettings,
    inputs=("label1", "label0", "test", "sideband?"),
    outputs=("scores",),
    description="CATHODE and its baselines: a classifier ensemble (label 1 vs 0), scored on "
    "the test set.",
    gpu=True,
)
