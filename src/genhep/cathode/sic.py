"""Figures of merit of an anomaly score (signal = 1, background = 0).

TPR = ε_S (signal efficiency),  FPR = ε_B (background efficiency),
SIC = ε_S / √ε_B   (the gain in significance S/√B from cutting on the score),
rejection = 1 / ε_B.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from genhep.errors import GenhepError


@dataclass
class SicCurve:
    tpr: np.ndarray
    fpr: np.ndarray

    @property
    def sic(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.fpr > 0, self.tpr / np.sqrt(self.fpr), np.nan)

    @property
    def rejection(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.where(self.fpr > 0, 1.0 / self.fpr, np.inf)


def sic_curve(labels: np.ndarray, scores: np.ndarray) -> SicCurve:
    """TPR and FPR at every threshold of the score (labels: 1 signal, 0 background)."""
    labels = np.asarray(labels)
    if labels.min() == labels.max():
        raise GenhepError("a SIC curve needs both signal (1) and background (0) test events")
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)  # every working point
    return SicCurve(tpr=tpr, fpr=fpr)


def max_sic(curve: SicCurve, n_background: int, min_background: int = 50) -> tuple[float, float]:
    """Maximum SIC over working points that keep at least ``min_background`` background
    test events, and that FPR floor (min_background / n_background).

    Below the floor the FPR is estimated from a handful of events and SIC fluctuates
    upwards without meaning; the floor is set by the test statistics, and reported.
    """
    floor = min_background / n_background
    usable = curve.fpr >= floor
    if not usable.any():
        raise GenhepError(f"no working point with FPR >= {floor:.3g} ({n_background} background)")
    return float(np.nanmax(curve.sic[usable])), floor


# --- over an ensemble of runs --------------------------------------------------------------

QUANTILES = (0.16, 0.5, 0.84)  # the band and the median over independent runs


def null_auc_sigma(n1: int, n0: int) -> float:
    """Standard deviation of the AUC of a score that cannot tell two samples apart
    (Mann-Whitney U under the null): √((n1 + n0 + 1) / (12 n1 n0))."""
    return float(np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0)))


def run_summary(
    labels: np.ndarray,
    scores: np.ndarray,
    tpr_grid: np.ndarray,
    min_background: int = 50,
) -> dict:
    """SIC and rejection vs TPR, max SIC and AUC of each run (rows of ``scores``), with
    their median and 16–84% band over runs, and the same for the runs' mean score.

    Curves are put on a common TPR grid (FPR interpolated linearly in TPR) so that runs
    can be combined point by point. An FPR below the floor is set to the floor: there
    the curves are lower bounds, consistent with the floor-limited max SIC.
    """
    labels = np.asarray(labels)
    n_background = int((labels == 0).sum())
    scores = np.atleast_2d(scores)
    sic_rows, rej_rows, max_sics, aucs = [], [], [], []
    floor = min_background / n_background
    for row in scores:
        curve = sic_curve(labels, row)
        fpr = np.interp(tpr_grid, curve.tpr, curve.fpr)
        fpr = np.maximum(fpr, floor)  # below the floor: a lower bound on SIC, as in max_sic
        sic_rows.append(tpr_grid / np.sqrt(fpr))
        rej_rows.append(1.0 / fpr)
        max_sics.append(max_sic(curve, n_background, min_background)[0])
        aucs.append(roc_auc_score(labels, row))
    ensemble = sic_curve(labels, scores.mean(axis=0))

    def band(rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: below the floor
            return np.nanquantile(np.asarray(rows), QUANTILES, axis=0)

    return {
        "tpr": tpr_grid,
        "sic": band(sic_rows),  # (3, grid): 16%, median, 84%
        "rejection": band(rej_rows),
        "max_sic": np.quantile(max_sics, QUANTILES),
        "auc": np.quantile(aucs, QUANTILES),
        "max_sic_ensemble": max_sic(ensemble, n_background, min_background)[0],
        "runs": len(scores),
        "fpr_floor": floor,
        "n_signal": int((labels == 1).sum()),
        "n_background": n_background,
    }
