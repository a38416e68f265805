"""The classifier two-sample test: out-of-fold ROC AUC of a classifier telling truth from
generated events (0.5: indistinguishable, 1.0: trivially separable)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genhep.metrics.inputs import _as_pair

CLASSIFIERS = ("gbdt", "mlp")


def _make_classifier(method: str, seed: int):
    if method == "gbdt":
        # Early stopping on a seeded 10 % validation split: deterministic, and it keeps the
        # trees from fitting fluctuations (which would only add noise to the out-of-fold AUC).
        return HistGradientBoostingClassifier(
            max_iter=200, early_stopping=True, validation_fraction=0.1, random_state=seed
        )
    if method == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(64, 64), early_stopping=True, max_iter=200, random_state=seed
            ),
        )
    raise ValueError(f"unknown classifier method {method!r}, expected one of {CLASSIFIERS}")


def classifier_auc(
    truth,
    gen,
    method: str = "gbdt",
    folds: int = 5,
    seed: int = 0,
    max_events: int | None = None,
) -> float:
    """Classifier two-sample test: ROC AUC of a classifier telling truth from generated events.

    Truth is labelled 1, generated 0; the classes are balanced by subsampling the larger one to
    the size of the smaller (and both to ``max_events`` if given), seeded. Stratified, shuffled
    k-fold (``folds``, seeded) scores every event with a classifier that did not see it, and
    the AUC (sklearn.metrics.roc_auc_score) is taken over all out-of-fold scores
    (Lopez-Paz & Oquab, arXiv:1610.06545; Friedman, arXiv:physics/0311034 for HEP).

    ``method``: "gbdt" (sklearn HistGradientBoostingClassifier) or "mlp" (StandardScaler +
    MLPClassifier with two hidden layers of 64). 0.5 means indistinguishable, 1.0 trivially
    separable; for two unit Gaussians shifted by δ the best possible AUC is Φ(δ/√2). With
    finite samples the AUC fluctuates around 0.5 for identical distributions and can come out
    slightly below it; it is not clipped. Two *identical arrays* (the same events in both
    classes) give an AUC well below 0.5: each test event's twin sits in the training folds
    with the other label, so out-of-fold scores are anti-correlated with the labels. Compare
    independent samples, as a held-out truth and a generator's output are.
    """
    truth, gen = _as_pair(truth, gen)
    rng = np.random.default_rng(seed)
    n = min(len(truth), len(gen))
    if max_events is not None:
        n = min(n, int(max_events))
    if n < folds:
        raise ValueError(f"need at least folds={folds} events per class, got {n}")
    # Seeded subsamples of n events per class (a permutation when nothing is dropped).
    truth = truth[np.sort(rng.choice(len(truth), size=n, replace=False))]
    gen = gen[np.sort(rng.choice(len(gen), size=n, replace=False))]

    features = np.vstack([truth, gen])
    labels = np.r_[np.ones(n), np.zeros(n)]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(
        _make_classifier(method, seed), features, labels, cv=cv, method="predict_proba"
    )[:, 1]
    return float(roc_auc_score(labels, scores))
