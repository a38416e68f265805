"""From sideband data to a signal-region background template (and ANODE's density ratio).

CATHODE's preprocessing (min-max → logit → standardize for the features, standardize
for mjj) is fitted on the sideband training events only: the SR must not leak into the
background model. The same transform maps SR events into the model's space, so a density
ratio of two models in that space equals the ratio in physical space (same Jacobian).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genhep.cathode.datasets import Events
from genhep.cathode.regions import Regions, SignalRegionMjj
from genhep.contracts import write_split_file
from genhep.io.atomic import atomic_path
from genhep.transforms import Preprocessor, TransformChain

log = logging.getLogger("genhep")


def fit_preprocessor(sb_train: Events, steps: Sequence[str], margin: float = 0.05) -> Preprocessor:
    features = TransformChain.build(sb_train.feature_names, steps, margin).fit(sb_train.x)
    context = TransformChain.build(["mjj"], ["standardize"]).fit(sb_train.mjj[:, None])
    return Preprocessor(features, context)


def holdout_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) row indices by one seeded permutation."""
    perm = np.random.default_rng([seed, 7]).permutation(n)
    n_val = max(1, round(val_fraction * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def write_model_inputs(
    events: Events, pre: Preprocessor, path: str | os.PathLike, role: str
) -> dict[str, int]:
    """Transform ``events`` and write them as a training split; events outside the
    SB-fitted min-max range have no image under the logit and are dropped (counted)."""
    x = pre.features.forward(events.x)
    c = pre.context.forward(events.mjj[:, None])
    ok = np.isfinite(x).all(axis=1) & np.isfinite(c).all(axis=1)
    counts = {"events": int(ok.sum()), "dropped_out_of_range": int((~ok).sum())}
    with atomic_path(path) as tmp:
        rows = np.flatnonzero(ok)
        write_split_file(tmp, pre, x[ok], c[ok], events.label[ok], rows, {"split": role, **counts})
    return counts


def sample_template(
    model_path: str | os.PathLike,
    pre: Preprocessor,
    sr_data: Events,
    regions: Regions,
    oversampling: float,
    bandwidth: float | str,
    seed: int,
    device: str = "auto",
    batch_size: int = 200_000,
) -> Events:
    """The background template: mjj from the SR data's KDE, x from the SB model at that
    mjj (the best-k epochs' mixture where training kept several), in physical units."""
    import torch  # here, not at the top: stage_data imports this module without torch

    from genhep.models import load_ensemble
    from genhep.training import resolve_device

    dev = resolve_device(device)
    model = load_ensemble(Path(model_path), dev)
    n = int(round(oversampling * len(sr_data)))
    rng = np.random.default_rng([seed, 4])
    mjj = SignalRegionMjj(sr_data.mjj, regions, bandwidth).sample(n, rng)
    c = torch.as_tensor(pre.context.forward(mjj[:, None]), dtype=torch.float32, device=dev)
    torch.manual_seed(seed)
    parts = []
    for start in range(0, n, batch_size):
        parts.append(
            model.sample(len(c[start : start + batch_size]), c[start : start + batch_size])
        )
    x = pre.features.inverse(torch.cat(parts).double().cpu().numpy())
    return Events(x, mjj, np.zeros(n, np.int64), sr_data.feature_names)


def anode_scores(
    sb_model_path: str | os.PathLike,
    sr_model_path: str | os.PathLike,
    pre: Preprocessor,
    test: Events,
    device: str = "auto",
) -> np.ndarray:
    """ANODE's score log p_SR(x | m) − log p_SB(x | m) on the test events, shape (1, n).

    Test events outside the SB-fitted range have no density under either model: they get
    the lowest score (counted in the log), so they never pass a cut.
    """
    import torch  # here, not at the top: stage_data imports this module without torch

    from genhep.models import load_ensemble
    from genhep.training import resolve_device

    dev = resolve_device(device)
    x = pre.features.forward(test.x)
    c = pre.context.forward(test.mjj[:, None])
    ok = np.isfinite(x).all(axis=1) & np.isfinite(c).all(axis=1)
    xt = torch.as_tensor(x[ok], dtype=torch.float32, device=dev)
    ct = torch.as_tensor(c[ok], dtype=torch.float32, device=dev)
    ratio = np.empty(len(x))
    with torch.no_grad():
        log_sr = load_ensemble(sr_model_path, dev).log_prob(xt, ct)
        log_sb = load_ensemble(sb_model_path, dev).log_prob(xt, ct)
    ratio[ok] = (log_sr - log_sb).double().cpu().numpy()
    finite = ok.copy()
    finite[ok] = np.isfinite(ratio[ok])
    if (~finite).any():
        log.info("ANODE: %d of %d test events outside the model range", (~finite).sum(), len(x))
        ratio[~finite] = ratio[finite].min() - 1.0 if finite.any() else 0.0
    return ratio[None, :]
