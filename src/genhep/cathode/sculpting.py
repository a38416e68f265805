"""Background sculpting: how much a cut on the anomaly score changes the mjj spectrum.

A weakly supervised classifier trained in the signal region (SR) can learn features
correlated with mjj (jet masses grow with mjj). Cutting on its score then reshapes the
smooth background spectrum, and a bump hunt on the events passing the cut fits a
shape the cut made. LaCATHODE (Hallin et al., "Resonant anomaly detection without
background sculpting", arXiv 2210.14924) measures this on background events by the
Jensen-Shannon divergence between the mjj distributions before and after cuts at
fixed background efficiencies; here the same, plus a χ² test that gives a p-value.

The events are background only (sideband events held out from the classifier's
training). At background efficiency ε the threshold is the score that K = round(ε N)
of the N events reach (the score's (1 − ε) quantile); the K events at or above it pass.

Definitions, with n_i events in mjj bin i before the cut, k_i of them passing,
f_i = n_i − k_i failing, F = N − K and p = K / N:

* χ²: the after-cut sample is a subset of the before sample, so their histograms are
  correlated. The difference of the normalised histograms is exactly
  k_i/K − n_i/N = (1 − p)(k_i/K − f_i/F), so the after-vs-before comparison is made as
  passing vs FAILING, which are independent: χ² = Σ_i (k_i/K − f_i/F)² / σ_i² with
  σ_i² = (n_i/N)(1/K + 1/F), both samples' Poisson errors at the pooled (no-sculpting)
  shape. This equals Σ_i (k_i − p n_i)² / (n_i p (1 − p)), the binomial error of the
  pass fraction per bin, and Pearson's χ² of the 2 × bins table (pass, fail) × bin.
  ndf = bins − 1 (the overall pass fraction is fixed by the cut). Adjacent bins are
  merged until each expects ≥ ``MIN_EXPECTED`` passing events (p n_i, from the
  before counts only: no bias), so that χ² follows its asymptotic distribution.
* JSD: JSD(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M), M = (P + Q)/2, in bits (base 2,
  0 ≤ JSD ≤ 1), of the normalised before (Q) and after (P) histograms on the given
  edges. A finite sample gives JSD > 0 without any sculpting (≈ bins / (K ln 4) for
  small p); ``jsd_null`` estimates that floor by shuffling the scores among the events
  (the same threshold, so a random subset of K events passes), averaged over a few
  permutations, and ``jsd`` means something only in units of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import chi2 as chi2_dist

from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path

MIN_EXPECTED = 5.0  # passing events expected per merged bin for the χ² test
VALUE_KEYS = ("chi2", "ndf", "chi2_ndf", "p_value", "jsd", "jsd_null", "jsd_null_std")


def default_edges(mjj: np.ndarray, bins: int = 40) -> np.ndarray:
    """Equal-width mjj bins over the 0.1–99.9% range (events beyond go to the end bins)."""
    lo, hi = np.percentile(mjj, [0.1, 99.9])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def counts(mjj: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram with every event counted: those outside the edges go to the end bins."""
    return np.histogram(np.clip(mjj, edges[0], edges[-1]), edges)[0].astype(np.float64)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """JSD of two histograms (normalised here) in bits: 0 for equal shapes, 1 disjoint."""
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a):  # KL(a ‖ m); bins with a = 0 contribute nothing, and m > 0 where a > 0
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return min(1.0, max(0.0, 0.5 * kl(p) + 0.5 * kl(q)))


def merge_bins(before: np.ndarray, p: float, min_expected: float = MIN_EXPECTED) -> np.ndarray:
    """Group index of each bin: adjacent bins merged left to right until each group
    expects ≥ ``min_expected`` passing events (p × its before count); a short remainder
    joins the last group. Empty bins carry no information and join their neighbours."""
    groups, group, acc = np.zeros(len(before), dtype=int), 0, 0.0
    for i, n in enumerate(before):
        groups[i] = group
        acc += n * p
        if acc >= min_expected and i < len(before) - 1:
            group, acc = group + 1, 0.0
    if acc < min_expected and group > 0:  # the remainder, too small alone
        groups[groups == group] = group - 1
    return groups


def chi2_pass_fail(passed: np.ndarray, failed: np.ndarray) -> tuple[float, int]:
    """χ² and ndf of the normalised passing vs failing histograms (see the module
    docstring: pooled Poisson errors of both; equal to Pearson's χ² of the table)."""
    k_tot, f_tot = passed.sum(), failed.sum()
    pooled = (passed + failed) / (k_tot + f_tot)
    sigma2 = pooled * (1.0 / k_tot + 1.0 / f_tot)
    chi2 = float(np.sum((passed / k_tot - failed / f_tot) ** 2 / sigma2))
    return chi2, len(passed) - 1


def threshold_at(ranked: np.ndarray, efficiency: float) -> float:
    """The score that round(ε N) of the sorted scores ``ranked`` reach (inf if none)."""
    k = int(round(efficiency * len(ranked)))
    return float(ranked[len(ranked) - k]) if k > 0 else float("inf")


def _check(mjj, scores, efficiencies) -> tuple[np.ndarray, np.ndarray]:
    mjj, scores = np.asarray(mjj, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if mjj.ndim != 1 or mjj.shape != scores.shape:
        raise GenhepError(f"sculpting: mjj {mjj.shape} and scores {scores.shape} must be 1-D alike")
    if not (np.isfinite(mjj).all() and np.isfinite(scores).all()):
        raise GenhepError("sculpting: mjj and scores must be finite (NaN or inf found)")
    bad = [e for e in efficiencies if not 0.0 < e < 1.0]
    if bad:
        raise GenhepError(f"sculpting: background efficiencies must lie in (0, 1), got {bad}")
    return mjj, scores


def sculpting(
    mjj: np.ndarray,
    scores: np.ndarray,
    background_efficiencies: Sequence[float] = (0.1, 0.01, 0.001),
    edges: np.ndarray | None = None,
    min_events: int = 50,
    *,
    bins: int = 40,
    permutations: int = 5,
    seed: int = 0,
) -> list[dict]:
    """One row per background efficiency: the cut on ``scores`` keeping that fraction of
    the (background-only) events, and how it changes their ``mjj`` spectrum (module
    docstring): efficiency, threshold, passing, chi2, ndf, chi2_ndf, p_value, jsd,
    jsd_null (mean over ``permutations`` shuffles of the scores, seeded by ``seed``),
    jsd_null_std, mean_shift (mean mjj after − before) and skipped (None, or why the row
    holds no numbers: a cut keeping fewer than ``min_events``, or too few for 2 bins).
    ``edges``: mjj bin edges, else ``bins`` equal-width bins over the 0.1–99.9% range."""
    mjj, scores = _check(mjj, scores, background_efficiencies)
    edges = default_edges(mjj, bins) if edges is None else np.asarray(edges, dtype=np.float64)
    n = len(mjj)
    before = counts(mjj, edges)
    ranked = np.sort(scores)
    rng = np.random.default_rng(seed)
    shuffled = [rng.permutation(scores) for _ in range(permutations)]
    rows = []
    for eff in background_efficiencies:
        threshold = threshold_at(ranked, eff)
        passing = scores >= threshold  # ties at the threshold pass: K may exceed round(εN)
        row = {"efficiency": float(eff), "threshold": threshold, "passing": int(passing.sum())}
        row |= dict.fromkeys((*VALUE_KEYS, "mean_shift"))
        rows.append(row)
        if row["passing"] < min_events:
            row["skipped"] = f"the cut keeps {row['passing']} events, fewer than {min_events}"
            continue
        if row["passing"] == n:
            row["skipped"] = "the cut keeps every event (ties at the threshold)"
            continue
        after = counts(mjj[passing], edges)
        p = row["passing"] / n
        groups = merge_bins(before, p)
        if groups.max() < 1:
            row["skipped"] = f"too few passing events for 2 bins of ≥{MIN_EXPECTED:g} expected"
            continue
        merged_pass = np.bincount(groups, weights=after)
        chi2, ndf = chi2_pass_fail(merged_pass, np.bincount(groups, weights=before) - merged_pass)
        nulls = [jensen_shannon(counts(mjj[s >= threshold], edges), before) for s in shuffled]
        row |= {
            "chi2": chi2,
            "ndf": ndf,
            "chi2_ndf": chi2 / ndf,
            "p_value": float(chi2_dist.sf(chi2, ndf)),
            "jsd": jensen_shannon(after, before),
            "jsd_null": float(np.mean(nulls)) if nulls else None,
            "jsd_null_std": float(np.std(nulls)) if nulls else None,
            "mean_shift": float(mjj[passing].mean() - mjj.mean()),
            "skipped": None,
        }
    return rows


def gap_edges(mjj: np.ndarray, gap: Sequence[float], bins: int = 40) -> np.ndarray:
    """mjj bin edges for events outside the interval ``gap`` = (low, high) (the sidebands
    held out of CWoLa's short sidebands: the SR and the short sidebands lie between):
    about ``bins`` bins of one width over the 0.1–99.9% range of ``mjj``, edges at the
    gap's ends, so that no bin straddles it and the gap is one empty bin (the merging
    of ``sculpting`` joins it to a neighbour). A side without events gets no bins."""
    mjj = np.asarray(mjj, dtype=np.float64)
    low, high = float(gap[0]), float(gap[1])
    lo, hi = np.percentile(mjj, [0.1, 99.9]) if len(mjj) else (low, high)
    lo, hi = min(lo, low), max(hi, high)
    below, above = (mjj < low).any(), (mjj >= high).any()
    span = (low - lo) * below + (hi - high) * above
    if span <= 0:
        return default_edges(mjj, bins)
    width = span / bins
    parts = []
    if below:
        parts.append(np.linspace(lo, low, max(1, round((low - lo) / width)) + 1))
    if above:
        parts.append(np.linspace(high, hi, max(1, round((hi - high) / width)) + 1))
    return np.unique(np.concatenate(parts))


def _draw_sculpting(fig, grid, i, mjj, scores, efficiencies, edges, title) -> None:
    """One panel (spectra over a ratio) of ``plot_sculpting`` in cell ``i`` of ``grid``."""
    import matplotlib.pyplot as plt

    from genhep.plots import _ratio_axes

    n, widths, centers = len(mjj), np.diff(edges), 0.5 * (edges[1:] + edges[:-1])
    before = counts(mjj, edges)
    ranked = np.sort(scores)
    top, bottom = _ratio_axes(fig, grid, i)
    density = before / (n * widths)
    safe = np.where(before > 0, density, np.nan)
    top.stairs(density, edges, color="black", lw=1.5, label=f"before the cut ({n})")
    for j, eff in enumerate(efficiencies):
        passing = scores >= threshold_at(ranked, eff)
        kept = int(passing.sum())
        color = plt.get_cmap("tab10")(j % 10)
        after = counts(mjj[passing], edges) / (max(kept, 1) * widths)
        top.stairs(after, edges, color=color, label=rf"$\epsilon_B$ = {eff:g} ({kept})")
        k = after * kept * widths  # passing counts
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.sqrt((1 - k / before) / k)  # binomial error of k_i, relative
            ratio = np.where(k > 0, after / safe, np.nan)  # empty bins: off a log axis
        bottom.errorbar(centers, ratio, yerr=relative * ratio, fmt="o", ms=2, color=color)
    top.set_yscale("log")
    top.set(ylabel="normalised")
    top.set_title(title, fontsize=9)
    top.legend(loc="upper right", fontsize=7)
    bottom.axhline(1, color="black", lw=0.6)
    bottom.set_yscale("log")  # sculpting ratios span decades; a flat 1 is no sculpting
    bottom.set(ylim=(0.05, 20), ylabel="after / before", xlabel=r"$m_{jj}$ [TeV]")


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)


def plot_sculpting(
    mjj: np.ndarray,
    scores: np.ndarray,
    efficiencies: Sequence[float],
    path: str | os.PathLike,
    title: str,
    *,
    edges: np.ndarray | None = None,
    bins: int = 40,
) -> None:
    """The normalised mjj spectrum after each cut over the uncut one (log y), and their
    ratio after/before below (log; error bars: the binomial error of each bin's passing
    count). Events beyond the edges count in the end bins. ``path`` is written atomically."""
    plot_sculpting_methods({title: (mjj, scores)}, efficiencies, path, "", edges=edges, bins=bins)


def plot_sculpting_methods(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]],
    efficiencies: Sequence[float],
    path: str | os.PathLike,
    title: str,
    *,
    edges: np.ndarray | None = None,
    bins: int = 40,
) -> None:
    """``plot_sculpting``'s panel for each entry of ``panels`` ({panel title: (mjj,
    scores)}; a method each), side by side, two per row at most, under ``title``; one
    set of ``edges`` (else each panel's ``default_edges``). Written atomically."""
    # Imported here: computing the numbers needs no matplotlib.
    import matplotlib.pyplot as plt

    from genhep.plots import _hep_style

    if not panels:
        raise GenhepError("plot_sculpting_methods: no method to plot")
    checked = {name: _check(m, sc, efficiencies) for name, (m, sc) in panels.items()}
    ncols = min(2, len(checked))
    nrows = -(-len(checked) // ncols)
    with plt.style.context(_hep_style()):
        fig = plt.figure(figsize=(6 * ncols, 5 * nrows), layout="constrained")
        grid = fig.add_gridspec(nrows, ncols)
        for i, (name, (mjj, scores)) in enumerate(checked.items()):
            e = default_edges(mjj, bins) if edges is None else np.asarray(edges, dtype=np.float64)
            _draw_sculpting(fig, grid, i, mjj, scores, efficiencies, e, name)
        if title:
            fig.suptitle(title, fontsize=10)
        _save(fig, path)
