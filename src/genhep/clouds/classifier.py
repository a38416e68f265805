"""The classifier two-sample test on particle clouds: out-of-fold ROC AUC of a small deep-sets
classifier telling truth from generated jets (0.5: indistinguishable, 1.0: trivially
separable).

JetNet's W1 and EFP metrics each look at a projection of the clouds; a classifier on the
clouds themselves sees every correlation a generator may get wrong (the cloud counterpart of
the tabular path's genhep.metrics.classifier). The network is a deep
set (Zaheer et al., arXiv 1703.06114; the EPiC pooling of Buhmann et al., arXiv
2301.08128, without its equivariant layers): a per-particle MLP φ, pooled over the real
particles as a sum (divided by N, so it sees the multiplicity) and a mean, concatenated
with the jet's relative mass (genhep.clouds.metrics.relative_mass) and read by an MLP ρ.
The pooling is over the mask alone, so the particles' order and what padded slots hold
change nothing.

Out of fold, as genhep.metrics.classifier: the larger sample is subsampled (seeded) to
the smaller's size, truth labelled 1 and generated 0; stratified, shuffled k-fold scores
every jet with a network that did not train on it; the AUC (sklearn roc_auc_score) is
over all out-of-fold scores, and its spread the standard deviation of the folds' own
AUCs. Inputs are standardised with the training folds' real particles. Each fold's
network is seeded (initialisation and batch order) in a forked torch RNG, so the result is
reproducible on CPU and the caller's random state is untouched.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from torch import Tensor, nn

from genhep.clouds.metrics import relative_mass

PT_FLOOR = 1e-8  # log(pT_rel) of a non-positive pT_rel (a generator's) is log(PT_FLOOR)


class DeepSetsClassifier(nn.Module):
    """logit(truth | cloud): ρ([Σ_real φ(p) / N, mean_real φ(p), jet features])."""

    def __init__(self, n_particle_features: int, n_jet_features: int, hidden: int) -> None:
        super().__init__()
        self.phi = nn.Sequential(
            nn.Linear(n_particle_features, hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.1),
        )
        self.rho = nn.Sequential(
            nn.Linear(2 * hidden + n_jet_features, hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, 1),
        )

    def forward(self, particles: Tensor, mask: Tensor, jet: Tensor) -> Tensor:
        """particles (B, N, F), mask bool (B, N), jet (B, J) → logits (B,)."""
        weight = mask.unsqueeze(-1).to(particles.dtype)
        h = self.phi(torch.where(mask.unsqueeze(-1), particles, 0.0)) * weight
        total = h.sum(dim=1)
        count = weight.sum(dim=1).clamp(min=1.0)
        pooled = torch.cat([total / particles.shape[1], total / count, jet], dim=-1)
        return self.rho(pooled).squeeze(-1)


def _features(particles: np.ndarray, mask: np.ndarray, name: str):
    """Per particle (Δη, Δφ, pT_rel, log pT_rel), zero where padded; per jet (m/pT,)."""
    particles = np.asarray(particles)
    mask = np.asarray(mask, dtype=bool)
    if particles.ndim != 3 or particles.shape[2] != 3 or mask.shape != particles.shape[:2]:
        raise ValueError(
            f"{name}: need particles (jets, N, 3) and mask (jets, N), not "
            f"{particles.shape} and {mask.shape}"
        )
    real = particles[mask]
    if not np.isfinite(real).all():
        raise ValueError(f"{name}: real particles hold non-finite values (NaN or inf)")
    p = np.where(mask[..., None], particles, 0).astype(np.float64)
    log_pt = np.log(np.maximum(p[..., 2:3], PT_FLOOR))
    x = np.concatenate([p, np.where(mask[..., None], log_pt, 0)], axis=-1)
    jet = relative_mass(p, mask)[:, None]
    return x, mask, jet


def _standardise(x, mask, jet, train: np.ndarray):
    """x and jet standardised with the mean and std of the training rows' real particles
    (features of zero spread are left unscaled)."""
    real = x[train][mask[train]]
    mu, sd = real.mean(axis=0), real.std(axis=0)
    jmu, jsd = jet[train].mean(axis=0), jet[train].std(axis=0)
    sd[sd == 0], jsd[jsd == 0] = 1.0, 1.0
    xs = np.where(mask[..., None], (x - mu) / sd, 0.0)
    return torch.as_tensor(xs, dtype=torch.float32), torch.as_tensor(
        (jet - jmu) / jsd, dtype=torch.float32
    )


def _fit_and_score(
    x: Tensor,
    mask: Tensor,
    jet: Tensor,
    labels: Tensor,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    epochs: int,
    hidden: int,
    batch_size: int,
    lr: float,
    device: str,
) -> np.ndarray:
    """Train one network on ``train`` rows, return the sigmoid scores of ``test`` rows."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DeepSetsClassifier(x.shape[-1], jet.shape[-1], hidden).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    order_rng = torch.Generator().manual_seed(seed)
    train_t = torch.as_tensor(train)
    model.train()
    for _ in range(epochs):
        for rows in train_t[torch.randperm(len(train_t), generator=order_rng)].split(batch_size):
            logits = model(x[rows].to(device), mask[rows].to(device), jet[rows].to(device))
            loss = loss_fn(logits, labels[rows].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    scores = []
    with torch.no_grad():
        for rows in torch.as_tensor(test).split(4 * batch_size):
            logits = model(x[rows].to(device), mask[rows].to(device), jet[rows].to(device))
            scores.append(torch.sigmoid(logits).cpu().numpy())
    return np.concatenate(scores).astype(np.float64)


def classifier_auc(
    truth: tuple[np.ndarray, np.ndarray],
    gen: tuple[np.ndarray, np.ndarray],
    folds: int = 5,
    epochs: int = 10,
    hidden: int = 64,
    max_jets: int | None = None,
    seed: int = 0,
    batch_size: int = 256,
    lr: float = 1e-3,
    device: str = "cpu",
) -> tuple[float, float]:
    """Out-of-fold AUC of the deep-sets classifier, truth vs generated clouds ((particles,
    mask) each), and the standard deviation of the per-fold AUCs (see the module
    docstring). ``max_jets`` caps the jets per side (both are cut to the smaller size
    anyway). Two independent samples of one distribution give 0.5 within the spread;
    the same array passed twice does not (each jet's twin trains with the other label)."""
    truth_x, truth_m, truth_j = _features(*truth, "truth")
    gen_x, gen_m, gen_j = _features(*gen, "gen")
    if truth_x.shape[1] != gen_x.shape[1]:
        raise ValueError(
            f"truth and gen clouds differ in N: {truth_x.shape[1]} and {gen_x.shape[1]}"
        )
    n = min(len(truth_x), len(gen_x), max_jets if max_jets is not None else len(truth_x))
    if n < folds:
        raise ValueError(f"need at least folds={folds} jets per side, got {n}")
    rng = np.random.default_rng(seed)
    keep_t = np.sort(rng.choice(len(truth_x), size=n, replace=False))
    keep_g = np.sort(rng.choice(len(gen_x), size=n, replace=False))
    x = np.concatenate([truth_x[keep_t], gen_x[keep_g]])
    mask = np.concatenate([truth_m[keep_t], gen_m[keep_g]])
    jet = np.concatenate([truth_j[keep_t], gen_j[keep_g]])
    labels = np.r_[np.ones(n), np.zeros(n)]
    mask_t, labels_t = torch.as_tensor(mask), torch.as_tensor(labels, dtype=torch.float32)

    scores = np.empty(2 * n)
    fold_aucs = []
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(cv.split(x[:, 0, :1], labels)):
        x_t, jet_t = _standardise(x, mask, jet, train)
        scores[test] = _fit_and_score(
            x_t,
            mask_t,
            jet_t,
            labels_t,
            train,
            test,
            seed * 1000 + k,
            epochs,
            hidden,
            batch_size,
            lr,
            device,
        )
        fold_aucs.append(roc_auc_score(labels[test], scores[test]))
    return float(roc_auc_score(labels, scores)), float(np.std(fold_aucs))
