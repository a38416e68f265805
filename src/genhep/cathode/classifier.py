"""CATHODE's anomaly classifier, shared by every method that trains one."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from genhep.errors import GenhepError


@dataclass
class ClassifierSettings:
    """CATHODE's classifier: an MLP (3 × 64, ReLU), BCE with balanced class weights, Adam."""

    hidden: int = 64
    layers: int = 3
    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    best_epochs: int = 10  # average the predictions of the epochs with the lowest val loss
    runs: int = 10  # independent trainings (ensemble); each its own seed and val split
    val_fraction: float = 0.5  # CATHODE's k-fold halves: half the SR data validates
    seed: int = 0
    device: str = "auto"

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> ClassifierSettings:
        """From the config's ``cathode.classifier`` section; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known - {"threads", "runtime", "mem_mb"})
        if unknown:
            raise GenhepError(f"config key cathode.classifier.{unknown[0]}: unknown setting")
        return cls(**{k: v for k, v in cfg.items() if k in known})


@dataclass
class ClassifierResult:
    scores: np.ndarray  # (runs, n_test): each run's best-epoch-averaged test predictions
    val_auc: np.ndarray  # (runs,): label 1 vs label 0 on each run's own validation half
    n_val: tuple[int, int]  # (label 1, label 0) events in a validation half

    def null_check(self) -> dict[str, float]:
        """How far the validation AUC is from 0.5, in units of its spread under the null
        (a score blind to the difference): the background-template check, no signal needed."""
        from genhep.cathode.sic import null_auc_sigma

        median = float(np.median(self.val_auc))
        sigma = null_auc_sigma(*self.n_val)
        return {"val_auc": median, "null_sigma": sigma, "pull": (median - 0.5) / sigma}


def train_anomaly_classifier(
    x_label1: np.ndarray, x_label0: np.ndarray, x_test: np.ndarray, s: ClassifierSettings
) -> ClassifierResult:
    """An ensemble of ``s.runs`` classifiers of label 1 against label 0, and their scores
    on ``x_test``.

    Label 1 is the SR data, label 0 the background template (CATHODE); for the
    baselines it is signal vs background (supervised), data vs true background
    (idealized) or SR vs SB (CWoLa). Each run draws its own validation half, and
    averages the predictions of its ``best_epochs`` epochs with the lowest validation
    loss, which steadies a classifier trained on a tiny excess (the paper's best-epoch
    averaging).
    """
    import torch
    from sklearn.metrics import roc_auc_score
    from torch import nn

    from genhep.models.base import adam, mlp
    from genhep.training import resolve_device

    dev = resolve_device(s.device)
    x = np.vstack([x_label1, x_label0]).astype(np.float32)
    y = np.r_[np.ones(len(x_label1)), np.zeros(len(x_label0))].astype(np.float32)
    # Standardize on the training inputs (the classifier sees O(1) features).
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-12
    x_all = torch.as_tensor((x - mean) / std, device=dev)
    y_all = torch.as_tensor(y, device=dev)
    x_test_t = torch.as_tensor(((x_test - mean) / std).astype(np.float32), device=dev)
    # Balanced class weights: each class carries half of the loss.
    w_class = torch.tensor([len(y) / (2 * (y == 0).sum()), len(y) / (2 * (y == 1).sum())])
    weight = w_class.to(dev)[y_all.long()]

    def bce(logits, idx):
        return nn.functional.binary_cross_entropy_with_logits(
            logits.squeeze(-1), y_all[idx], weight=weight[idx]
        )

    scores, val_aucs = [], []
    for run in range(s.runs):
        g = torch.Generator().manual_seed(s.seed * 1000 + run)
        perm = torch.randperm(len(y), generator=g).to(dev)
        n_val = int(s.val_fraction * len(y))
        val, train = perm[:n_val], perm[n_val:]
        torch.manual_seed(s.seed * 1000 + run)
        net = mlp(x.shape[1], 1, s.hidden, s.layers, activation=nn.ReLU).to(dev)
        opt = adam(net.parameters(), s.lr)
        best: list[tuple[float, torch.Tensor, torch.Tensor]] = []  # (val loss, test, val preds)
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
                val_logits = net(x_all[val])
                entry = (float(bce(val_logits, val)), torch.sigmoid(net(x_test_t)).squeeze(-1))
                best.append((*entry, torch.sigmoid(val_logits).squeeze(-1)))
                best = sorted(best, key=lambda b: b[0])[: s.best_epochs]  # bounded memory
        scores.append(torch.stack([b[1] for b in best]).mean(0).cpu().numpy())
        val_pred = torch.stack([b[2] for b in best]).mean(0).cpu().numpy()
        val_aucs.append(roc_auc_score(y[val.cpu().numpy()], val_pred))
    n1 = int(y[val.cpu().numpy()].sum())  # label-1 events in a validation half
    return ClassifierResult(np.stack(scores), np.array(val_aucs), (n1, n_val - n1))
