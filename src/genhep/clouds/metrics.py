"""JetNet's distance metrics of particle clouds (Kansal et al. 2021, arXiv 2106.11535):
W1M on the jet mass and W1P on the particle features, with JetNet's bootstrap errors.

Both compare two sets of clouds, each given as ``particles`` (jets, N, 3) = (Δη, Δφ,
pT_rel) and ``mask`` (jets, N), the form of :class:`genhep.clouds.Clouds`:

- **W1M**: the 1-Wasserstein distance between the two sets' jet masses. As JetNet's
  ``jet_features``, the mass is that of the sum of the massless constituents taken as
  (η, φ, pT) = (Δη, Δφ, pT_rel): the *relative* mass m / pT_jet, with no jet-level input,
  so a generator is judged on what it generates.
- **W1P**: per particle feature, the W1 between all real particles of the two sets (padded
  slots excluded, JetNet's ``exclude_zeros``), and their mean over the features.

Errors as JetNet's: ``num_batches`` draws of ``num_eval_samples`` jets from each set,
without replacement; the metric is the mean over the draws and its error their standard
deviation. Every distance is ``genhep.metrics.distances.wasserstein_1d``
(scipy.stats.wasserstein_distance), the tabular metrics' own.
"""

from __future__ import annotations

import numpy as np

from genhep.clouds import PARTICLE_FEATURES
from genhep.clouds.constituents import constituent_sum
from genhep.metrics.distances import wasserstein_1d

NUM_EVAL_SAMPLES = 50_000  # jetnet.evaluation's default
NUM_BATCHES = 5


def relative_mass(particles: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """m / pT_jet of each cloud: the invariant mass of its real, massless constituents,
    (Δη, Δφ, pT_rel) read as (η, φ, pT). Padded slots add nothing; the order of the
    particles does not matter."""
    n = len(particles)
    return constituent_sum(particles, mask, np.ones(n), np.zeros(n))["mass"]


def _draws(
    n_real: int, n_gen: int, num_eval_samples: int, num_batches: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """JetNet's bootstrap: per batch, ``num_eval_samples`` jet indices of each set (at
    most all of them), drawn without replacement."""
    rng = np.random.default_rng(seed)
    return [
        (
            rng.choice(n_real, size=min(num_eval_samples, n_real), replace=False),
            rng.choice(n_gen, size=min(num_eval_samples, n_gen), replace=False),
        )
        for _ in range(num_batches)
    ]


def _mean_and_error(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def w1m(
    real: tuple[np.ndarray, np.ndarray],
    gen: tuple[np.ndarray, np.ndarray],
    num_eval_samples: int = NUM_EVAL_SAMPLES,
    num_batches: int = NUM_BATCHES,
    seed: int = 0,
) -> tuple[float, float]:
    """W1 of the relative jet masses of ``real`` and ``gen`` ((particles, mask) each):
    (mean over the bootstrap draws, their standard deviation)."""
    m_real, m_gen = relative_mass(*real), relative_mass(*gen)
    draws = _draws(len(m_real), len(m_gen), num_eval_samples, num_batches, seed)
    return _mean_and_error([wasserstein_1d(m_real[a], m_gen[b]) for a, b in draws])


def w1p(
    real: tuple[np.ndarray, np.ndarray],
    gen: tuple[np.ndarray, np.ndarray],
    num_eval_samples: int = NUM_EVAL_SAMPLES,
    num_batches: int = NUM_BATCHES,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Per particle feature (and ``"mean"`` over them), the W1 between the real particles
    of the drawn jets of ``real`` and ``gen``: (mean over the draws, standard deviation)."""
    (p_real, mask_real), (p_gen, mask_gen) = real, gen
    draws = _draws(len(p_real), len(p_gen), num_eval_samples, num_batches, seed)

    def features(p: np.ndarray, mask: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return p[rows][np.asarray(mask, dtype=bool)[rows]]  # (real particles, 3)

    per_draw = []
    for a, b in draws:
        x, y = features(p_real, mask_real, a), features(p_gen, mask_gen, b)
        per_draw.append([wasserstein_1d(x[:, i], y[:, i]) for i in range(len(PARTICLE_FEATURES))])
    per_draw = np.asarray(per_draw)  # (draws, features)
    out = {name: _mean_and_error(list(per_draw[:, i])) for i, name in enumerate(PARTICLE_FEATURES)}
    out["mean"] = _mean_and_error(list(per_draw.mean(axis=1)))
    return out
