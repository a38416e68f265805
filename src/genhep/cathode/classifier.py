"""CATHODE's anomaly classifier, shared by every method that trains one."""

from __future__ import annotations

import logging
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
NOISE_STREAM = 0x9015E  # the noise features' own key (noise_features)
HGB_PATIENCE = 10  # hgb's early stopping: scikit-learn's n_iter_no_change, as the paper's

log = logging.getLogger("genhep")


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
    scores: np.ndarray  # (runs, n_test): each run's test predictions (mlp: best-epoch-averaged)
    check_scores: np.ndarray  # (runs, n_check): the same, on the check slice
    check_labels: np.ndarray  # (n_check,): 1 or 0
    check_index: np.ndarray  # (n_check,): rows of [label 1; label 0] in the check slice
    # (runs,): each run's AUC on its own epoch-choice slice. Biased upwards: its best
    # epochs were chosen on those events. Kept to show that bias, not used for the check.
    selection_auc: np.ndarray
    # (runs, n_extra): the same as ``scores``, on ``x_extra`` (train_anomaly_classifier)
    extra_scores: np.ndarray | None = None

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
    x_label1: np.ndarray,
    x_label0: np.ndarray,
    x_test: np.ndarray,
    s: ClassifierSettings,
    x_extra: np.ndarray | None = None,
) -> ClassifierResult:
    """An ensemble of ``s.runs`` classifiers of label 1 against label 0, and their scores
    on ``x_test`` and on the check slice.

    Label 1 is the SR data, label 0 the background template (CATHODE); for the
    baselines it is signal vs background (supervised), data vs true background
    (idealized) or SR vs SB (CWoLa). ``s.kind`` picks the classifier (``CLASSIFIERS``),
    after ``s.noise_features`` uninformative features are appended to every input
    (``with_noise_features``; none by default). Every kind trains its runs on the same
    rows (``run_split``) and only ever predicts the check slice (``check_slice``), so
    the result and its null check mean the same whatever the kind.

    ``x_extra``: more events to score (``extra_scores``; the held-out sideband events of
    the sculpting measurement), predicted apart from ``x_test`` after it, by the same
    models: not appended to it, since a larger batch can change the last bits of a
    matrix product (measured with MKL), and ``scores`` must not move with them.
    """
    x_label1, x_label0, x_test = (with_noise_features(x, s) for x in (x_label1, x_label0, x_test))
    if x_extra is None:
        return CLASSIFIERS[s.kind](x_label1, x_label0, x_test, s)
    return CLASSIFIERS[s.kind](x_label1, x_label0, x_test, s, with_noise_features(x_extra, s))


def with_noise_features(x: np.ndarray, s: ClassifierSettings) -> np.ndarray:
    """``x`` with ``s.noise_features`` columns of noise appended (``noise_features``);
    ``x`` itself, untouched, when there are none."""
    if s.noise_features == 0:
        return x
    return np.hstack([x, noise_features(x, s.noise_features, s.seed)])


def noise_features(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(n, k) standard-normal features, uninformative: each event's are a function of
    the event's own feature values and of ``seed`` alone (a counter-based generator).

    Why keyed by the event and not drawn in row order: the same event sits in different
    sets and rows for different methods (the SR data is label 1 of CATHODE, of the
    idealized detector and of CWoLa; the test set is every method's), and the methods at
    a point (one seed) must see the same noise on it, whatever the order. The seeding: a
    key per event, splitmix64 folded over ``(NOISE_STREAM, seed)`` and then the bits of
    each feature as float64; the noise, Box-Muller on two 53-bit uniforms per feature,
    each splitmix64 of the key plus a counter. Apart from the runs' and the check
    slice's streams, so it moves no other draw.
    """
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64).reshape(len(x), -1)
    key = _splitmix64(np.full(len(x), NOISE_STREAM, dtype=np.uint64))
    key = _splitmix64(key ^ np.uint64(seed))
    for column in bits.T:
        key = _splitmix64(key ^ column)
    normals = []
    for j in range(k):
        u1 = ((_splitmix64(key + np.uint64(2 * j)) >> np.uint64(11)) + 1) * 2.0**-53  # (0, 1]
        u2 = (_splitmix64(key + np.uint64(2 * j + 1)) >> np.uint64(11)) * 2.0**-53  # [0, 1)
        normals.append(np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2))
    return np.stack(normals, axis=1) if normals else np.empty((len(x), 0))


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """One splitmix64 step, elementwise on uint64 (wrapping arithmetic): a bijective
    mix whose outputs pass as independent uniform 64-bit words."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _labelled(x_label1: np.ndarray, x_label0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All events as float32 (label 1 first) and their labels, 1 or 0, as float32."""
    x = np.vstack([x_label1, x_label0]).astype(np.float32)
    y = np.r_[np.ones(len(x_label1)), np.zeros(len(x_label0))].astype(np.float32)
    return x, y


def _train_mlp(
    x_label1: np.ndarray,
    x_label0: np.ndarray,
    x_test: np.ndarray,
    s: ClassifierSettings,
    x_extra: np.ndarray | None = None,
) -> ClassifierResult:
    """``kind: mlp``, CATHODE's classifier. Each run draws its own epoch-choice slice, and
    averages the predictions of its ``best_epochs`` epochs with the lowest loss there,
    which steadies a classifier trained on a tiny excess (the paper's best-epoch
    averaging)."""
    dev = resolve_device(s.device)
    x, y = _labelled(x_label1, x_label0)
    check = check_slice(y, s)
    # Standardize on the inputs (the classifier sees O(1) features); label-blind.
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-12
    x_all = torch.as_tensor((x - mean) / std, device=dev)
    y_all = torch.as_tensor(y, device=dev)
    x_test_t = torch.as_tensor(((x_test - mean) / std).astype(np.float32), device=dev)
    x_extra_t = (
        None
        if x_extra is None
        else torch.as_tensor(((x_extra - mean) / std).astype(np.float32), device=dev)
    )
    check_t = torch.as_tensor(check, device=dev)
    # Balanced class weights: each class carries half of the loss.
    w_class = torch.tensor([len(y) / (2 * (y == 0).sum()), len(y) / (2 * (y == 1).sum())])
    weight = w_class.to(dev)[y_all.long()]

    def bce(logits, idx):
        return nn.functional.binary_cross_entropy_with_logits(
            logits.squeeze(-1), y_all[idx], weight=weight[idx]
        )

    scores, check_scores, selection_aucs, extra_scores = [], [], [], []
    for run in range(s.runs):
        train_rows, select_rows = run_split(len(y), check, s, run)
        train = torch.as_tensor(train_rows, device=dev)
        select = torch.as_tensor(select_rows, device=dev)
        g = torch.Generator().manual_seed(s.seed * 1000 + run)
        torch.manual_seed(s.seed * 1000 + run)
        net = mlp(x.shape[1], 1, s.hidden, s.layers, activation=nn.ReLU).to(dev)
        opt = adam(net.parameters(), s.lr)
        # (epoch-choice loss, epoch-choice predictions, the epoch's weights): the test,
        # check and extra events are scored after training, by the kept best epochs
        best: list[tuple] = []
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
                        torch.sigmoid(select_logits).squeeze(-1),
                        _weights(net),
                    )
                )
                best = sorted(best, key=lambda b: b[0])[: s.best_epochs]  # bounded memory
        select_mean = torch.stack([b[1] for b in best]).mean(0).cpu().numpy()
        kept = [b[2] for b in best]
        scores.append(_best_epochs_predict(net, kept, x_test_t))
        check_scores.append(_best_epochs_predict(net, kept, x_all[check_t]))
        selection_aucs.append(roc_auc_score(y[select_rows], select_mean))
        if x_extra_t is not None:
            extra_scores.append(_best_epochs_predict(net, kept, x_extra_t))
    return ClassifierResult(
        scores=np.stack(scores),
        check_scores=np.stack(check_scores),
        check_labels=y[check].astype(np.int64),
        check_index=check,
        selection_auc=np.array(selection_aucs),
        extra_scores=np.stack(extra_scores) if extra_scores else None,
    )


def _weights(net: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the network's weights (a best epoch's, kept to score other events later)."""
    return {name: t.detach().clone() for name, t in net.state_dict().items()}


def _best_epochs_predict(net: nn.Module, weights: list[dict], x: torch.Tensor) -> np.ndarray:
    """The mean prediction on ``x`` of the best epochs, each by its kept ``weights``.

    Why after training and not at every epoch: most epochs are not among the best, and
    scoring the test, check and sideband sets at every epoch cost a CPU job ~9 s for the
    sideband set alone. The same weights on the same inputs give the same numbers, bit
    for bit (tests/test_cathode_sculpting.py pins the scores)."""
    predictions = []
    with torch.no_grad():
        for w in weights:
            net.load_state_dict(w)
            predictions.append(torch.sigmoid(net(x)).squeeze(-1))
    return torch.stack(predictions).mean(0).cpu().numpy()


def _train_hgb(
    x_label1: np.ndarray,
    x_label0: np.ndarray,
    x_test: np.ndarray,
    s: ClassifierSettings,
    x_extra: np.ndarray | None = None,
) -> ClassifierResult:
    """``kind: hgb``, the tree ensemble of Finke et al. (arXiv 2309.13111): per run, a
    HistGradientBoostingClassifier on the run's training rows, early-stopped on the loss
    of its epoch-choice rows (patience ``HGB_PATIENCE``), scored by the model it stops
    at. The paper's hyperparameters are the defaults of the ``hgb_*`` keys.

    As the MLP's: the runs' rows and seeds, and class weights balanced on all events
    (each class half of the loss, in training and in the early stopping). No
    standardization: a tree's splits do not change under it. On the CPU (OpenMP
    threads: the job's), whatever ``s.device``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _labelled(x_label1, x_label0)
    labels = y.astype(np.int64)
    check = check_slice(y, s)
    weight = np.where(labels == 1, len(y) / (2 * labels.sum()), len(y) / (2 * (1 - labels).sum()))
    x_test = np.asarray(x_test, dtype=np.float32)
    scores, check_scores, selection_aucs, iterations, extra_scores = [], [], [], [], []
    for run in range(s.runs):
        train, select = run_split(len(y), check, s, run)
        model = HistGradientBoostingClassifier(
            learning_rate=s.hgb_learning_rate,
            max_iter=s.hgb_max_iter,
            max_leaf_nodes=s.hgb_max_leaf_nodes,
            early_stopping=True,
            scoring="loss",
            n_iter_no_change=HGB_PATIENCE,
            random_state=s.seed * 1000 + run,
        )
        model.fit(
            x[train],
            labels[train],
            sample_weight=weight[train],
            X_val=x[select],
            y_val=labels[select],
            sample_weight_val=weight[select],
        )
        scores.append(model.predict_proba(x_test)[:, 1])
        check_scores.append(model.predict_proba(x[check])[:, 1])
        selection_aucs.append(roc_auc_score(labels[select], model.predict_proba(x[select])[:, 1]))
        iterations.append(model.n_iter_)
        if x_extra is not None:
            extra_scores.append(model.predict_proba(np.asarray(x_extra, dtype=np.float32))[:, 1])
    log.info("hgb: boosting iterations per run %s (at most %d)", iterations, s.hgb_max_iter)
    return ClassifierResult(
        scores=np.stack(scores),
        check_scores=np.stack(check_scores),
        check_labels=labels[check],
        check_index=check,
        selection_auc=np.array(selection_aucs),
        extra_scores=np.stack(extra_scores) if extra_scores else None,
    )


# {cathode.classifier.kind: its trainer}; genhep.settings.cathode.CLASSIFIER_KINDS names them.
CLASSIFIERS = {"mlp": _train_mlp, "hgb": _train_hgb}
