"""Every metric of truth vs generated at once: one leaderboard row (:func:`compare`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genhep.metrics.classifier import CLASSIFIERS, classifier_auc
from genhep.metrics.distances import (
    correlation_distance,
    ks_statistic,
    triangular_discrimination,
    wasserstein_1d,
)
from genhep.metrics.frechet import fpd, kpd
from genhep.metrics.inputs import _as_pair


def compare(
    truth,
    gen,
    columns: Sequence[str],
    *,
    bins=50,
    fpd_kwargs: dict | None = None,
    kpd_kwargs: dict | None = None,
    classifiers: Sequence[str] = CLASSIFIERS,
    folds: int = 5,
    seed: int = 0,
    max_classifier_events: int | None = None,
    conditions: Sequence[str] = (),
) -> dict[str, float]:
    """All metrics of truth vs generated, as one flat dict of floats (a leaderboard row).

    Keys, in order:

    * per column ``<col>``: ``w1_<col>`` (:func:`wasserstein_1d`, in the column's units),
      ``ks_<col>`` (:func:`ks_statistic`), ``td_<col>`` (:func:`triangular_discrimination`
      with ``bins``);
    * ``w1_mean_norm``: mean over columns of W1 / σ(truth column), so columns in different units
      can be averaged (a constant truth column is divided by 1); ``ks_max``: the largest KS;
      ``td_mean``: the mean triangular discrimination. These three summarise the generated
      columns only: the ``conditions`` (the context, e.g. mjj, drawn from the same pool for
      every row) keep their per-column entries but would only dilute the averages;
    * ``corr_max``, ``corr_frobenius`` (:func:`correlation_distance`);
    * ``fpd``, ``fpd_err`` (:func:`fpd` with ``fpd_kwargs``), ``kpd``, ``kpd_err``
      (:func:`kpd` with ``kpd_kwargs``);
    * ``auc_<method>`` for each method in ``classifiers`` (:func:`classifier_auc` with
      ``folds`` and ``max_events=max_classifier_events``).

    ``seed`` seeds every random choice (classifiers, and FPD/KPD unless ``fpd_kwargs`` or
    ``kpd_kwargs`` set their own ``seed``), so the row is deterministic for a given seed.
    """
    truth, gen = _as_pair(truth, gen)
    columns = list(columns)
    if not set(columns) - set(conditions):
        raise ValueError(f"every column {columns} is a condition: nothing generated to compare")
    if len(columns) != truth.shape[1]:
        raise ValueError(
            f"{len(columns)} column names {columns} for samples of shapes "
            f"{truth.shape} and {gen.shape}"
        )

    row: dict[str, float] = {}
    w1_norm, ks, td = [], [], []
    for j, col in enumerate(columns):
        a, b = truth[:, j], gen[:, j]
        row[f"w1_{col}"] = wasserstein_1d(a, b)
        row[f"ks_{col}"] = ks_statistic(a, b)
        row[f"td_{col}"] = triangular_discrimination(a, b, bins=bins)
        if col in conditions:
            continue
        sigma = a.std()
        w1_norm.append(row[f"w1_{col}"] / (sigma if sigma > 0 else 1.0))
        ks.append(row[f"ks_{col}"])
        td.append(row[f"td_{col}"])
    row["w1_mean_norm"] = float(np.mean(w1_norm))
    row["ks_max"] = float(np.max(ks))
    row["td_mean"] = float(np.mean(td))

    row.update(correlation_distance(truth, gen))
    row["fpd"], row["fpd_err"] = fpd(truth, gen, **{"seed": seed, **(fpd_kwargs or {})})
    row["kpd"], row["kpd_err"] = kpd(truth, gen, **{"seed": seed, **(kpd_kwargs or {})})
    for method in classifiers:
        row[f"auc_{method}"] = classifier_auc(
            truth, gen, method=method, folds=folds, seed=seed, max_events=max_classifier_events
        )
    return row
