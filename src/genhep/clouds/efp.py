"""Energy-flow polynomials of particle clouds and JetNet's metrics on them: W1EFP, FPD, KPD
(Kansal et al. 2021, arXiv 2106.11535; 2023, arXiv 2211.10295).

EFPs (Komiske, Metodiev, Thaler, arXiv 1712.07124) are computed by ``energyflow`` exactly
as ``jetnet.utils.efps`` (jetnet 0.2.5) calls it::

    EFPSet(*efpset_args, measure="hadr", beta=1, normed=None, coords="ptyphim")
    .batch_compute(jets[:, :, [2, 0, 1]])      # (pT_rel, Δη, Δφ) per particle

Note ``normed=None``: energyflow 1.4 reads it as False, so the energies are the pT_rel
themselves, not renormalised to sum to 1 (JetNet's pT_rel sum to about 1 anyway). JetNet
passes the zero-padded array, whose padded particles (pT = 0) add nothing to any EFP;
here each jet's real particles alone are passed (the mask decides, so whatever padded
slots hold is ignored), in float64: the same values up to rounding, for less work.
Jets are computed ``chunk_size`` at a time, so memory is bounded by a chunk.

Which EFPs, as JetNet:

- W1EFP: ``jetnet.evaluation.w1efp``'s default set, the 5 prime (connected) EFPs with
  n = 4 vertices and d = 4 edges, ``W1EFP_EFPSET_ARGS``;
- FPD and KPD: ``jetnet.evaluation.get_fpd_kpd_jet_features``, all 36 EFPs with d <= 4
  (connected and disconnected), ``FPD_KPD_EFPSET_ARGS``. The W1EFP set is a subset of it
  (``w1efp_columns``), with bit-identical values, so one EFP pass per sample serves all
  three metrics (``efp_metrics``).

W1EFP uses genhep's bootstrap of W1M/W1P (``genhep.clouds.metrics._draws``): per batch,
``num_eval_samples`` jets of each sample; per EFP the mean W1 over batches and its standard
deviation. As JetNet's ``w1efp(average_over_efps=True)`` (jetnet 0.1, MPGAN), the single
W1EFP is the mean over the EFPs of those means, with error the quadrature sum (2-norm) of
their standard deviations. FPD and KPD are the tabular path's ``genhep.metrics.frechet.fpd``
and ``kpd`` (JetNet's 1/N extrapolation and polynomial-kernel MMD), applied to the EFPs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from genhep.clouds.metrics import NUM_BATCHES, NUM_EVAL_SAMPLES, _draws, _mean_and_error
from genhep.metrics import frechet
from genhep.metrics.distances import wasserstein_1d

# jetnet.evaluation.w1efp's default: prime EFPs with n = 4 vertices, d = 4 edges (5 EFPs).
W1EFP_EFPSET_ARGS: tuple = (("n==", 4), ("d==", 4), ("p==", 1))
# jetnet.evaluation.get_fpd_kpd_jet_features: every EFP with d <= 4 (36 EFPs).
FPD_KPD_EFPSET_ARGS: tuple = (("d<=", 4),)
CHUNK_JETS = 10_000  # jets passed to energyflow at a time: bounds the float64 copies


@lru_cache(maxsize=8)
def efpset(efpset_args: tuple = FPD_KPD_EFPSET_ARGS):
    """JetNet's ``energyflow.EFPSet`` for ``efpset_args`` (loading one takes about 1 s, so
    they are cached; energyflow is imported here, as only the EFP metrics need it)."""
    from energyflow import EFPSet

    return EFPSet(*efpset_args, measure="hadr", beta=1, normed=None, coords="ptyphim")


def _key(efpset_args) -> tuple:
    """``efpset_args`` hashable (a config gives lists: [["d<=", 4]])."""
    return tuple(tuple(a) if isinstance(a, list) else a for a in efpset_args)


def _check_clouds(particles: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    particles, mask = np.asarray(particles), np.asarray(mask, dtype=bool)
    if particles.ndim != 3 or particles.shape[2] != 3:
        raise ValueError(
            f"particles must be (jets, N, 3) = (etarel, phirel, ptrel), not {particles.shape}"
        )
    if mask.shape != particles.shape[:2]:
        raise ValueError(f"mask must be (jets, N) = {particles.shape[:2]}, not {mask.shape}")
    return particles, mask


def efps(
    particles: np.ndarray,
    mask: np.ndarray,
    efpset_args: tuple = FPD_KPD_EFPSET_ARGS,
    chunk_size: int = CHUNK_JETS,
    n_jobs: int = 1,
) -> np.ndarray:
    """EFPs of each cloud, float64 (jets, number of EFPs), as ``jetnet.utils.efps``: only the
    real particles (``mask``) count, their order does not matter, and a jet without any
    has every EFP 0 (as JetNet's all-zero row). ``n_jobs``: energyflow's worker processes
    (1: none, deterministic and within the job's threads)."""
    particles, mask = _check_clouds(particles, mask)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, not {chunk_size}")
    efp_set = efpset(_key(efpset_args))
    chunks = []
    for start in range(0, len(particles), chunk_size):
        rows = range(start, min(start + chunk_size, len(particles)))
        # energyflow's ptyphim order, (pT, y, φ); massless, so y = η.
        events = [particles[i][mask[i]][:, [2, 0, 1]].astype(np.float64) for i in rows]
        chunks.append(np.asarray(efp_set.batch_compute(events, n_jobs), dtype=np.float64))
    if not chunks:
        return np.zeros((0, efp_set.count()), dtype=np.float64)
    return np.concatenate(chunks)


def w1efp_columns() -> np.ndarray:
    """Indices of the W1EFP EFPs (``W1EFP_EFPSET_ARGS``) among the FPD/KPD ones
    (``FPD_KPD_EFPSET_ARGS``), in the order ``efpset(W1EFP_EFPSET_ARGS)`` computes them."""
    return np.flatnonzero(efpset(FPD_KPD_EFPSET_ARGS).sel(*W1EFP_EFPSET_ARGS))


def efp_labels(efpset_args: tuple = FPD_KPD_EFPSET_ARGS) -> list[str]:
    """One label per EFP of the set, from energyflow's specs: 'EFP n=4 d=4 k=1'
    (vertices, edges, the graph's index among those with that n and d)."""
    specs = efpset(_key(efpset_args)).specs  # columns n, e, d, v, k, c, p, h
    return [f"EFP n={s[0]} d={s[2]} k={s[4]}" for s in specs]


def w1efp_of_efps(
    real_efps: np.ndarray,
    gen_efps: np.ndarray,
    num_eval_samples: int = NUM_EVAL_SAMPLES,
    num_batches: int = NUM_BATCHES,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """W1 between ``real_efps`` and ``gen_efps`` (jets, k) per EFP column, bootstrapped as
    W1M/W1P: ``"efp{i}"`` → (mean over the batches, standard deviation), and ``"mean"`` →
    (mean over the EFPs, 2-norm of their standard deviations), JetNet's averaged W1EFP."""
    real_efps, gen_efps = np.asarray(real_efps), np.asarray(gen_efps)
    if real_efps.ndim != 2 or gen_efps.ndim != 2 or real_efps.shape[1] != gen_efps.shape[1]:
        raise ValueError(
            f"EFPs must be (jets, k) with the same k, not {real_efps.shape}, {gen_efps.shape}"
        )
    draws = _draws(len(real_efps), len(gen_efps), num_eval_samples, num_batches, seed)
    per_draw = np.asarray(
        [
            [wasserstein_1d(real_efps[a, i], gen_efps[b, i]) for i in range(real_efps.shape[1])]
            for a, b in draws
        ]
    )  # (draws, EFPs)
    out = {f"efp{i}": _mean_and_error(list(per_draw[:, i])) for i in range(per_draw.shape[1])}
    means, stds = per_draw.mean(axis=0), per_draw.std(axis=0)
    out["mean"] = (float(np.mean(means)), float(np.linalg.norm(stds)))
    return out


def w1efp(
    real: tuple[np.ndarray, np.ndarray],
    gen: tuple[np.ndarray, np.ndarray],
    num_eval_samples: int = NUM_EVAL_SAMPLES,
    num_batches: int = NUM_BATCHES,
    seed: int = 0,
    efpset_args: tuple = W1EFP_EFPSET_ARGS,
    chunk_size: int = CHUNK_JETS,
    n_jobs: int = 1,
) -> dict[str, tuple[float, float]]:
    """W1EFP of two sets of clouds ((particles, mask) each): :func:`w1efp_of_efps` on their
    EFPs of ``efpset_args`` (JetNet's default set)."""
    kw = {"efpset_args": efpset_args, "chunk_size": chunk_size, "n_jobs": n_jobs}
    return w1efp_of_efps(efps(*real, **kw), efps(*gen, **kw), num_eval_samples, num_batches, seed)


def fpd(
    real: tuple[np.ndarray, np.ndarray],
    gen: tuple[np.ndarray, np.ndarray],
    chunk_size: int = CHUNK_JETS,
    n_jobs: int = 1,
    **fpd_kwargs,
) -> tuple[float, float]:
    """FPD of two sets of clouds ((particles, mask) each) on their d <= 4 EFPs:
    ``genhep.metrics.frechet.fpd`` (``fpd_kwargs``: min_samples, max_samples, num_batches,
    num_points, normalise, seed; JetNet's defaults), (value, error)."""
    kw = {"chunk_size": chunk_size, "n_jobs": n_jobs}
    return frechet.fpd(efps(*real, **kw), efps(*gen, **kw), **fpd_kwargs)


def kpd(
    real: tuple[np.ndarray, np.ndarray],
    gen: tuple[np.ndarray, np.ndarray],
    chunk_size: int = CHUNK_JETS,
    n_jobs: int = 1,
    **kpd_kwargs,
) -> tuple[float, float]:
    """KPD of two sets of clouds on their d <= 4 EFPs: ``genhep.metrics.frechet.kpd``
    (``kpd_kwargs``: num_batches, batch_size, normalise, seed; JetNet's defaults),
    (median, error)."""
    kw = {"chunk_size": chunk_size, "n_jobs": n_jobs}
    return frechet.kpd(efps(*real, **kw), efps(*gen, **kw), **kpd_kwargs)


def efp_metrics(
    real_efps: np.ndarray,
    gen_efps: np.ndarray,
    num_eval_samples: int = NUM_EVAL_SAMPLES,
    num_batches: int = NUM_BATCHES,
    seed: int = 0,
    fpd_kwargs: Mapping | None = None,
    kpd_kwargs: Mapping | None = None,
) -> dict[str, object]:
    """W1EFP, FPD and KPD from the d <= 4 EFPs of both samples (:func:`efps` with its
    default set, computed once per sample, e.g. also for the plots):
    {"w1efp": :func:`w1efp_of_efps` on the W1EFP columns, "fpd": (value, error),
    "kpd": (median, error)}. ``fpd_kwargs``/``kpd_kwargs``: the FPD/KPD settings
    (genhep.settings.evaluation.FpdSettings, KpdSettings fields)."""
    real_efps, gen_efps = np.asarray(real_efps), np.asarray(gen_efps)
    n_efps = efpset(FPD_KPD_EFPSET_ARGS).count()
    for name, a in (("real_efps", real_efps), ("gen_efps", gen_efps)):
        if np.ndim(a) != 2 or np.shape(a)[1] != n_efps:
            raise ValueError(
                f"{name} must be the (jets, {n_efps}) d <= 4 EFPs of efps(), not {np.shape(a)}"
            )
    columns = w1efp_columns()
    return {
        "w1efp": w1efp_of_efps(
            real_efps[:, columns], gen_efps[:, columns], num_eval_samples, num_batches, seed
        ),
        "fpd": frechet.fpd(real_efps, gen_efps, **dict(fpd_kwargs or {})),
        "kpd": frechet.kpd(real_efps, gen_efps, **dict(kpd_kwargs or {})),
    }
