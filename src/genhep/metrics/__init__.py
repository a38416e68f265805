"""Evaluation metrics: how close is a generated sample to the truth?

Every generator family is scored with the same functions, truth (held-out events) against
generated events, both numpy arrays of shape (n, d) in physical units, with column names.

* one-dimensional, per column: 1-Wasserstein distance, Kolmogorov-Smirnov statistic and the
  triangular discrimination of histograms (the CaloChallenge "separation power");
* correlations: difference of the Pearson correlation matrices;
* multivariate, from JetNet (Kansal et al., "Evaluating generative models in high energy
  physics", Phys. Rev. D 107 (2023) 076017, arXiv:2211.10295): Fréchet physics distance (FPD)
  and kernel physics distance (KPD);
* a classifier two-sample test: out-of-fold ROC AUC of a classifier telling truth from generated
  (0.5: indistinguishable, 1.0: trivially separable).

:func:`compare` runs them all and returns one flat dict of floats, one leaderboard row.

The package's modules: :mod:`~genhep.metrics.distances` (1-D distances, correlations),
:mod:`~genhep.metrics.frechet` (FPD, KPD, MMD), :mod:`~genhep.metrics.classifier` (the
classifier two-sample test), :mod:`~genhep.metrics.summary` (:func:`compare`); every
public name is importable from ``genhep.metrics`` itself.
"""

from __future__ import annotations

from genhep.metrics.classifier import CLASSIFIERS, classifier_auc
from genhep.metrics.distances import (
    correlation_distance,
    correlation_matrix,
    ks_statistic,
    triangular_discrimination,
    wasserstein_1d,
)
from genhep.metrics.frechet import fpd, frechet_distance, kpd, mmd2_unbiased
from genhep.metrics.summary import compare

__all__ = [
    "CLASSIFIERS",
    "classifier_auc",
    "compare",
    "correlation_distance",
    "correlation_matrix",
    "fpd",
    "frechet_distance",
    "kpd",
    "ks_statistic",
    "mmd2_unbiased",
    "triangular_discrimination",
    "wasserstein_1d",
]
