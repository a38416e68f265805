"""CATHODE stage: one method's classifier ensemble (CATHODE, idealized, supervised, CWoLa)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from genhep.cathode.classifier import ClassifierSettings, train_anomaly_classifier
from genhep.cathode.files import read_events, write_scores

log = logging.getLogger("genhep")


def classify(
    method: str,
    label1_path,
    label0_path,
    test_path,
    output,
    settings: Mapping[str, Any],
    seed: int,
    label0_ratio: float | None = None,
) -> dict[str, Any]:
    """Train a method's classifier ensemble and write its test scores (runs × n_test),
    with its null check on the check slice held out from every run (``null_check``).

    ``label0_ratio`` caps the label-0 set at that multiple of label 1 (the idealized
    detector's true background is as large as CATHODE's template, no larger).
    """
    s = dataclasses.replace(ClassifierSettings.from_config(settings), seed=seed)
    x1, x0, test = (read_events(p) for p in (label1_path, label0_path, test_path))
    if label0_ratio is not None and len(x0) > label0_ratio * len(x1):
        x0 = x0.take(np.arange(int(round(label0_ratio * len(x1)))))
    result = train_anomaly_classifier(x1.x, x0.x, test.x, s)
    check = result.null_check()
    info = {
        "method": method,
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
    write_scores(output, result.scores, info, per_run)
    log.info(
        "%s: %d vs %d events, %d runs; check AUC %.4f on %d vs %d held-out events"
        " (null spread %.4f, pull %+.1f)",
        method,
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
