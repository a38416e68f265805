"""Building blocks of the CATHODE anomaly search (Hallin et al., arXiv 2109.00546).

CATHODE learns the background density p(x | mjj) in the sidebands (SB), interpolates it
into the signal region (SR) by sampling mjj there, and trains a classifier to tell SR
data from that background template; where the data hold a signal, the classifier finds
what the template lacks. This module holds the pieces that do not depend on the density
estimator: the regions, the SR mjj sampler, and the figures of merit.

Figures of merit, for a classifier score with signal = 1 and background = 0:

    TPR = ε_S (signal efficiency),  FPR = ε_B (background efficiency),
    SIC = ε_S / √ε_B   (the gain in significance S/√B from cutting on the score),
    rejection = 1 / ε_B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import gaussian_kde
from sklearn.metrics import roc_curve

from genhep.errors import GenhepError


@dataclass(frozen=True)
class Regions:
    """Signal region [sr_low, sr_high) and the sidebands around it within [low, high)."""

    sr_low: float = 3.3
    sr_high: float = 3.7
    low: float = 0.0
    high: float = float("inf")

    def __post_init__(self):
        if not self.low <= self.sr_low < self.sr_high <= self.high:
            raise GenhepError(
                f"config key cathode.regions: need low <= sr_low < sr_high <= high, got "
                f"{self.low} <= {self.sr_low} < {self.sr_high} <= {self.high}"
            )

    def signal_region(self, mjj: np.ndarray) -> np.ndarray:
        return (mjj >= self.sr_low) & (mjj < self.sr_high)

    def sidebands(self, mjj: np.ndarray) -> np.ndarray:
        inside = (mjj >= self.low) & (mjj < self.high)
        return inside & ~self.signal_region(mjj)


class SignalRegionMjj:
    """A Gaussian KDE of the SR data's mjj, sampled only inside the SR.

    CATHODE draws the conditioning mjj of its background template from such a KDE: the
    template then follows the SR's mjj spectrum, which the SB model cannot know.
    A plain KDE leaks density across the SR edges, depleting the events just inside
    them (measured: KS p ~ 1e-6 at the lower edge on 50k events). Draws that the kernel
    smears outside are reflected back in: sampling from the reflection KDE, which has
    no first-order boundary bias.
    """

    def __init__(self, mjj_sr: np.ndarray, regions: Regions, bandwidth: float | str = "scott"):
        mjj_sr = np.asarray(mjj_sr, dtype=np.float64)
        if len(mjj_sr) < 2:
            raise GenhepError(f"signal region has {len(mjj_sr)} events: too few for a KDE")
        self.regions = regions
        self.kde = gaussian_kde(mjj_sr, bw_method=bandwidth)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.regions.sr_low, self.regions.sr_high
        x = self.kde.resample(n, seed=rng)[0]
        while True:  # fold at both edges until inside (twice at most unless h ≳ SR width)
            below, above = x < lo, x > hi
            if not (below.any() or above.any()):
                return np.minimum(x, np.nextafter(hi, lo))  # the SR is [lo, hi)
            x = np.where(below, 2 * lo - x, np.where(above, 2 * hi - x, x))


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


# --- the anomaly classifier ----------------------------------------------------------------


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


def train_anomaly_classifier(
    x_label1: np.ndarray, x_label0: np.ndarray, x_test: np.ndarray, s: ClassifierSettings
) -> np.ndarray:
    """Scores of ``x_test``, shape (runs, n_test): one row per independent run.

    Label 1 is the SR data, label 0 the background template (CATHODE); for the
    baselines it is signal vs background (supervised), data vs true background
    (idealized) or SR vs SB (CWoLa). Each run averages the test predictions of its
    ``best_epochs`` epochs with the lowest validation loss, which steadies a classifier
    trained on a tiny excess (the paper's best-epoch averaging).
    """
    import torch
    from torch import nn

    from genhep.models.base import mlp
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

    scores = []
    for run in range(s.runs):
        g = torch.Generator().manual_seed(s.seed * 1000 + run)
        perm = torch.randperm(len(y), generator=g).to(dev)
        n_val = int(s.val_fraction * len(y))
        val, train = perm[:n_val], perm[n_val:]
        torch.manual_seed(s.seed * 1000 + run)
        net = mlp(x.shape[1], 1, s.hidden, s.layers, activation=nn.ReLU).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=s.lr)
        weight = w_class.to(dev)[y_all.long()]
        history = []  # (val loss, test predictions) per epoch
        for _ in range(s.epochs):
            order = train[torch.randperm(len(train), generator=g).to(dev)]
            net.train()
            for start in range(0, len(order), s.batch_size):
                idx = order[start : start + s.batch_size]
                loss = nn.functional.binary_cross_entropy_with_logits(
                    net(x_all[idx]).squeeze(-1), y_all[idx], weight=weight[idx]
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val_loss = nn.functional.binary_cross_entropy_with_logits(
                    net(x_all[val]).squeeze(-1), y_all[val], weight=weight[val]
                )
                history.append((float(val_loss), torch.sigmoid(net(x_test_t)).squeeze(-1)))
        best = sorted(history, key=lambda h: h[0])[: s.best_epochs]
        scores.append(torch.stack([p for _, p in best]).mean(0).cpu().numpy())
    return np.stack(scores)
