"""From sideband data to a signal-region background template (and ANODE's density ratio).

CATHODE's preprocessing (min-max → logit → standardize for the features, standardize
for mjj) is fitted on the sideband training events only: the SR must not leak into the
background model. The same transform maps SR events into the model's space, so a density
ratio of two models in that space equals the ratio in physical space (same Jacobian).

Arrays in, arrays out: the stages (``stage_data``, ``stage_template``, ``stage_anode``)
read the files, load the models and write the results.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genhep.cathode.datasets import Events
from genhep.cathode.regions import Regions, SignalRegionMjj
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


@dataclass(frozen=True)
class ModelInputs:
    """Events in the density model's space, as a training split holds them: transformed
    features and mjj, labels, and each event's row in the events it came from."""

    features: np.ndarray
    context: np.ndarray
    labels: np.ndarray
    rows: np.ndarray
    dropped_out_of_range: int

    @property
    def counts(self) -> dict[str, int]:
        return {"events": len(self.rows), "dropped_out_of_range": self.dropped_out_of_range}


def model_inputs(events: Events, pre: Preprocessor) -> ModelInputs:
    """Transform ``events`` into the model's space; events outside the SB-fitted min-max
    range have no image under the logit and are dropped (counted)."""
    x = pre.features.forward(events.x)
    c = pre.context.forward(events.mjj[:, None])
    ok = np.isfinite(x).all(axis=1) & np.isfinite(c).all(axis=1)
    rows = np.flatnonzero(ok)
    return ModelInputs(x[ok], c[ok], events.label[ok], rows, int((~ok).sum()))


def sample_template(
    model: Any,
    pre: Preprocessor,
    sr_data: Events,
    regions: Regions,
    oversampling: float,
    bandwidth: float | str,
    seed: int,
    device: Any,
    batch_size: int = 200_000,
) -> Events:
    """The background template: mjj from the SR data's KDE, x from the SB ``model`` (a
    loaded ensemble on the torch ``device``: the best-k epochs' mixture where training
    kept several) at that mjj, in physical units."""
    import torch  # here, not at the top: stage_data imports this module without torch

    n = int(round(oversampling * len(sr_data)))
    rng = np.random.default_rng([seed, 4])
    mjj = SignalRegionMjj(sr_data.mjj, regions, bandwidth).sample(n, rng)
    c = torch.as_tensor(pre.context.forward(mjj[:, None]), dtype=torch.float32, device=device)
    torch.manual_seed(seed)
    parts = []
    for start in range(0, n, batch_size):
        parts.append(
            model.sample(len(c[start : start + batch_size]), c[start : start + batch_size])
        )
    x = pre.features.inverse(torch.cat(parts).double().cpu().numpy())
    return Events(x, mjj, np.zeros(n, np.int64), sr_data.feature_names)


def anode_scores(
    sb_model: Any, sr_model: Any, pre: Preprocessor, test: Events, device: Any
) -> np.ndarray:
    """ANODE's score log p_SR(x | m) − log p_SB(x | m) on the test events, shape (1, n),
    of two loaded ensembles on the torch ``device``.

    Test events outside the SB-fitted range have no density under either model: they get
    the lowest score (counted in the log), so they never pass a cut.
    """
    import torch  # here, not at the top: stage_data imports this module without torch

    x = pre.features.forward(test.x)
    c = pre.context.forward(test.mjj[:, None])
    ok = np.isfinite(x).all(axis=1) & np.isfinite(c).all(axis=1)
    xt = torch.as_tensor(x[ok], dtype=torch.float32, device=device)
    ct = torch.as_tensor(c[ok], dtype=torch.float32, device=device)
    ratio = np.empty(len(x))
    with torch.no_grad():
        log_sr = sr_model.log_prob(xt, ct)
        log_sb = sb_model.log_prob(xt, ct)
    ratio[ok] = (log_sr - log_sb).double().cpu().numpy()
    finite = ok.copy()
    finite[ok] = np.isfinite(ratio[ok])
    if (~finite).any():
        log.info("ANODE: %d of %d test events outside the model range", (~finite).sum(), len(x))
        ratio[~finite] = ratio[finite].min() - 1.0 if finite.any() else 0.0
    return ratio[None, :]
