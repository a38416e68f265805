"""A 2-D conditional toy for model tests: two Gaussians whose means move with the context.

    c ~ U(−1, 1),  x | c ~ ½ N((−1.5, 1.5c), 0.4²) + ½ N((+1.5, −1.5c), 0.4²)

Bimodal, so a model must really split its mass; the modes' positions depend on c, so a
model that ignores the context is caught by the classifier, which sees (x, c).
"""

import numpy as np
import torch

from genhep import metrics


def sample_toy(n, seed):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1, 1, n)
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    x = np.column_stack([1.5 * side, -1.5 * side * c]) + 0.4 * rng.standard_normal((n, 2))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(c[:, None], dtype=torch.float32)


def classifier_auc(x_true, x_gen, c, seed=0):
    """Out-of-fold AUC of a boosted-tree classifier telling truth from generated (0.5 = perfect).

    The classifier sees (x, c), so a model that ignores the context is caught.
    """
    return metrics.classifier_auc(
        np.column_stack([x_true, c]),
        np.column_stack([x_gen, c]),
        method="gbdt",
        folds=3,
        seed=seed,
    )
