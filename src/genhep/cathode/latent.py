"""LaCATHODE: events mapped into the SB density model's latent space, where the search
classifies (Hallin et al., arXiv 2210.14924).

CATHODE's classifier tells SR data from a template sampled by the SB model. Where the
features correlate with mjj, a cut on its score keeps events of some mjj more than others
and sculpts the background spectrum, which a bump hunt cannot fit. LaCATHODE classifies in
the model's latent space instead: a conditional flow maps each event x with its mjj to
z = f(x; mjj), and under the model z ~ N(0, I) whatever mjj is. So the background in
latent space carries no mjj information for the classifier to learn, while a localised
signal, which the SB model never saw, lands away from the Gaussian.

What gets mapped, each event with its own (preprocessed) mjj as context: the SR data, the
template (mapping a flow's template gives back its base draws, so z ~ N(0, I) can stand in
for it), the test events, and the SB events a sculpting check cuts on.

Only families with a bijection given the context have a latent space
(``Generator.has_latent_map``: maf, nsf exactly, cfm up to its ODE solver's error).

Arrays in, arrays out: the stages load the models and read and write the files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genhep.models import EpochEnsemble
from genhep.models.base import Generator


def mapping_member(model: Generator | EpochEnsemble) -> Generator:
    """The one model whose map is used: the model itself, or an ensemble's best epoch.

    A mixture of the k best epochs has no single bijection (each member maps x to its own
    z, and the mixture's z would depend on which member is asked), so LaCATHODE uses the
    best epoch alone. ``load_ensemble`` keeps the epochs in the order training kept them,
    lowest validation loss first (``Trainer`` sorts them; ``genhep.train`` saves them in
    that order), so the best epoch is ``members[0]``: the same weights as the saved model.
    """
    return model.members[0] if isinstance(model, EpochEnsemble) else model


def latent_map(
    model: Generator | EpochEnsemble, x: Any, c: Any | None, batch_size: int = 100_000
) -> np.ndarray:
    """The latent image z = f(x; c) of events ``x`` (n, n_features) with contexts ``c``
    (n, n_context; None for an unconditional model), both already in the model's space
    (``interpolation.model_inputs``: finite rows only), as a float64 array (n, n_features).

    Mapped by ``mapping_member(model)`` on its device, ``batch_size`` events at a time, so
    memory stays bounded however many events there are. A family without a latent map
    raises NotImplementedError naming the families that have one.
    """
    member = mapping_member(model)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    xt = torch.as_tensor(x, dtype=torch.float32)
    ct = None if c is None else torch.as_tensor(c, dtype=torch.float32)
    if ct is not None and len(ct) != len(xt):
        raise ValueError(f"{len(xt)} events but {len(ct)} context rows")
    device = member.device
    parts = []
    with torch.no_grad():
        # At least one batch, so that a family without a map raises even on no events.
        for start in range(0, max(len(xt), 1), batch_size):
            rows = slice(start, start + batch_size)
            cb = None if ct is None else ct[rows].to(device)
            parts.append(member.latent(xt[rows].to(device), cb).double().cpu().numpy())
    return np.concatenate(parts)
