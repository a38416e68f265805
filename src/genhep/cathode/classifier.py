"""CATHODE's anomaly classifier, shared by every method that trains one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from genhep.cathode.sic import null_auc_sigma
from genhep.errors import GenhepError
from genhep.models.base import adam, mlp
from genhep.settings.cathode import ClassifierSettings
from genhep.training import resolve_device

CHECK_STREAM = 0xC4EC  # the check slice's own random stream, apart from the runs' seeds


def check_slice(y: np.ndarray, s: ClassifierSettings) -> np.ndarray:
    """Rows held out from every run: ``check_fraction`` of each label, drawn at random.

    Stratified, so that its counts (which set the null spread of its AUC) are fixed by
    the settings, not by the draw."""
    rng = np.random.default_rng([s.seed, CHECK_STREAM])
    parts = []
    for label in (1, 0):
        rows = np.flatnonzero(y == label)
        n = int(round(s.check_fraction * len(rows)))
        if n == 0:
            raise GenhepError(
                f"config key cathode.classifier.check_fraction: {s.check_fraction} of"
                f" {len(rows)} label-{label} events leaves none for the check slice"
            )
        parts.append(rng.choice(rows, n, replace=False))
    return np.sort(np.concatenate(parts))


def run_split(
    n_events: int, check: np.ndarray, s: ClassifierSettings, run: int
) -> tuple[np.ndarray, np.ndarray]:
    """A run's (training, epoch-choice) rows: a random split of the rows outside the
    check slice, ``val_fraction - check_fraction`` of all events choosing the epochs."""
    rest = np.setdiff1d(np.arange(n_events), check)
    n_select = int(round((s.val_fraction - s.check_fraction) * n_events))
    if not 0 < n_select < len(rest):
        raise GenhepError(
            f"config key cathode.classifier.val_fraction: {s.val_fraction} of {n_events}"
            f" events leaves no epoch-choice or no training events next to the check slice"
        )
    perm = np.random.default_rng([s.seed, run]).permutation(rest)
    return perm[n_select:], perm[:n_select]


@dataclass
class ClassifierResult:
    scores: np.ndarray  # (runs, n_test): each run's best-epoch-averaged test predictions
    check_scores: np.ndarray  # (runs, n_check): the same, on the check slice
    check_labels: np.ndarray  # (n_check,): 1 or 0
    check_index: np.ndarray  # (n_check,): rows of [label 1; label 0] in the check slice
    # (runs,): each run's AUC on its own epoch-choice slice. Biased upwards: its best
    # epochs were chosen on those events. Kept to show that bias, not used for the check.
    selection_auc: np.ndarray

    @property
    def check_auc_per_run(self) -> np.ndarray:
        return np.array([roc_auc_score(self.check_labels, row) for row in self.check_scores])

    def null_check(self) -> dict[str, float | int]:
        """The background-template check, no signal needed: the AUC of label 1 vs
        label 0 on the check slice, scored by the runs' mean prediction, and its
        distance from 0.5 in units of its spread under the null.

        Why this is unbiased: the mean prediction is a function fixed by the other
        events alone (no run trained on the check slice or chose its epochs with it).
        If label 1 and label 0 come from the same density, the check labels are then a
        random assignment of n₁ ones among n₁ + n₀ scores, and the AUC is a
        Mann-Whitney U: mean 0.5, spread ``null_auc_sigma(n₁, n₀)`` with the check
        slice's own counts. (A run's AUC on the events that chose its epochs is not:
        choosing the epochs that fit those events best pulls it above 0.5.)
        """
        n1 = int(self.check_labels.sum())
        n0 = len(self.check_labels) - n1
        auc = float(roc_auc_score(self.check_labels, self.check_scores.mean(axis=0)))
        sigma = null_auc_sigma(n1, n0)
        return {
            "check_auc": auc,
            "null_sigma": sigma,
            "null_pull": (auc - 0.5) / sigma,
            "n_check_label1": n1,
            "n_check_label0": n0,
        }


def train_anomaly_classifier(
    x_label1: np.ndarray, x_label0: np.ndarray, x_test: np.ndarray, s: ClassifierSettings
) -> ClassifierResult:
    """An ensemble of ``s.runs`` classifiers of label 1 against label 0, and their scores
    on ``x_test`` and on the check slice.

    Label 1 is the SR data, label 0 the background template (CATHODE); for the
    baselines it is signal vs background (supervised), data vs true background
    (idealized) or SR vs SB (CWoLa). Each run draws its own epoch-choice slice, and
    averages the predictions of its ``best_epochs`` epochs with the lowest loss there,
    which steadies a classifier trained on a tiny excess (the paper's best-epoch
    averaging). The check slice (see ``ClassifierSettings``) is only ever predicted.
    """
    dev = resolve_device(s.device)
    x = np.vstack([x_label1, x_label0]).astype(np.float32)
    y = np.r_[np.ones(len(x_label1)), np.zeros(len(x_label0))].astype(np.float32)
    check = check_slice(y, s)
    # Standardize on the inputs (the classifier sees O(1) features); label-blind.
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-12
    x_all = torch.as_tensor((x - mean) / std, device=dev)
    y_all = torch.as_tensor(y, device=dev)
    x_test_t = torch.as_tensor(((x_test - mean) / std).astype(np.float32), device=dev)
    check_t = torch.as_tensor(check, device=dev)
    # Balanced class weights: each class carries half of the loss.
    w_class = torch.tensor([len(y) / (2 * (y == 0).sum()), len(y) / (2 * (y == 1).sum())])
    weight = w_class.to(dev)[y_all.long()]

    def bce(logits, idx):
        return nn.functional.binary_cross_entropy_with_logits(
            logits.squeeze(-1), y_all[idx], weight=weight[idx]
        )

    def predict(net, inputs):
        return torch.sigmoid(net(inputs)).squeeze(-1)

    scores, check_scores, selection_aucs = [], [], []
    for run in range(s.runs):
        train_rows, select_rows = run_split(len(y), check, s, run)
        train = torch.as_tensor(train_rows, device=dev)
        select = torch.as_tensor(select_rows, device=dev)
        g = torch.Generator().manual_seed(s.seed * 1000 + run)
        torch.manual_seed(s.seed * 1000 + run)
        net = mlp(x.shape[1], 1, s.hidden, s.layers, activation=nn.ReLU).to(dev)
        opt = adam(net.parameters(), s.lr)
        best: list[tuple] = []  # (epoch-choice loss, test, check, epoch-choice predictions)
        for _ in range(s.epochs):
            order = train[torch.randperm(len(train), generator=g).to(dev)]
            net.train()
            for start in range(0, len(order), s.batch_size):
                idx = order[start : start + s.batch_size]
                loss = bce(net(x_all[idx]), idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                select_logits = net(x_all[select])
                best.append(
                    (
                        float(bce(select_logits, select)),
                        predict(net, x_test_t),
                        predict(net, x_all[check_t]),
                        torch.sigmoid(select_logits).squeeze(-1),
                    )
                )
                best = sorted(best, key=lambda b: b[0])[: s.best_epochs]  # bounded memory
        test_mean, check_mean, select_mean = (
            torch.stack([b[i] for b in best]).mean(0).cpu().numpy() for i in (1, 2, 3)
        )
        scores.append(test_mean)
        check_scores.append(check_mean)
        selection_aucs.append(roc_auc_score(y[select_rows], select_mean))
    return ClassifierResult(
        scores=np.stack(scores),
        check_scores=np.stack(check_scores),
        check_labels=y[check].astype(np.int64),
        check_index=check,
        selection_auc=np.array(selection_aucs),
    )
