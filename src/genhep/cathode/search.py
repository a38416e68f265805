"""The bump hunt of one search point: each method's cut on its anomaly score, the dijet
fit of the sidebands after the cut, and the local significance of the SR count
(``genhep.cathode.bumphunt``), on the events a real search would have.

Which events: the sidebands are the point's data outside CWoLa's short sidebands
(``sb_holdout``: no classifier trained on them, signal included as in data), the SR
events those of the SR data in the classifiers' check slice (no run trained on them or
chose its epochs with them, so their scores are those of unseen data). The check slice
is a random share ``search_fraction`` of the SR data, so the fitted SR background is
scaled by it. The short sidebands and the SR between them hold none of the fitted
events: bins there are neither fitted nor predicted, and the fit interpolates through
them. Cuts keep ``BUMP_EFFICIENCIES`` of the sideband events; 1 is no cut, whose
significance is that of the data without any classifier.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genhep.cathode.bumphunt import bump_hunt, default_edges, fit_sidebands
from genhep.cathode.files import ScoredEvents
from genhep.io.atomic import atomic_path

BUMP_EFFICIENCIES = (1.0, 0.1, 0.01)
BUMP_MIN_EVENTS = 50  # sideband events a cut must keep for a fit
SQRT_S = 13.0  # TeV: x = mjj/√s in the dijet function (a scale; p1 absorbs another choice)


def search_events(
    sideband: ScoredEvents, search: ScoredEvents
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mjj, the runs' mean score and the true label of the sideband and SR events."""
    mjj = np.concatenate([sideband.mjj, search.mjj])
    scores = np.concatenate([sideband.scores.mean(axis=0), search.scores.mean(axis=0)])
    return mjj, scores, np.concatenate([sideband.label, search.label])


def method_bump_hunt(
    sideband: ScoredEvents, search: ScoredEvents, search_fraction: float, counts: Mapping
) -> list[dict[str, Any]]:
    """One row per cut of ``BUMP_EFFICIENCIES`` (``bumphunt.bump_hunt``'s fields, plus
    the fit's p-value) for a method's scored sets at a point (``counts``: its SR and the
    gap of ``sb_holdout``)."""
    from scipy.stats import chi2 as chi2_dist

    mjj, scores, label = search_events(sideband, search)
    sr = tuple(counts["sr"])
    rows = bump_hunt(
        mjj,
        scores,
        sr,
        BUMP_EFFICIENCIES,
        default_edges(mjj, sr),
        sqrt_s=SQRT_S,
        labels=label,
        min_events=BUMP_MIN_EVENTS,
        excluded=tuple(counts["sb_holdout_gap"]),
        sr_fraction=search_fraction,
    )
    for row in rows:
        ok = row["chi2"] is not None and row["ndf"] > 0
        row["fit_p_value"] = float(chi2_dist.sf(row["chi2"], row["ndf"])) if ok else None
    return rows


def plot_bump_hunts(
    panels: Mapping[str, tuple[ScoredEvents, ScoredEvents, float]],
    counts: Mapping,
    path: str | os.PathLike,
    efficiency: float = BUMP_EFFICIENCIES[-1],
) -> None:
    """A panel per method: the mjj spectrum of the events passing its cut at
    ``efficiency`` (sidebands; the SR count scaled up by 1 / search fraction, so it reads
    on the same scale), the dijet fit through the sidebands and its SR prediction, and
    the pulls below. Written atomically; a figure that says so where no method has any."""
    import matplotlib.pyplot as plt

    from genhep.plots import _hep_style

    sr, gap = tuple(counts["sr"]), tuple(counts["sb_holdout_gap"])
    with plt.style.context(_hep_style()):
        ncols = max(1, min(2, len(panels)))
        nrows = max(1, -(-len(panels) // ncols))
        fig = plt.figure(figsize=(6 * ncols, 5 * nrows), layout="constrained")
        if not panels:
            fig.text(0.5, 0.5, "no method with sideband and check-slice scores", ha="center")
        grid = fig.add_gridspec(nrows, ncols)
        for i, (method, (sideband, search, fraction)) in enumerate(panels.items()):
            mjj, scores, _ = search_events(sideband, search)
            _draw_fit(fig, grid, i, mjj, scores, sr, gap, fraction, efficiency, method)
        fig.suptitle(
            f"bump hunt at sideband efficiency {efficiency:g}, SR [{sr[0]:.2f}, {sr[1]:.2f})"
            f" TeV, {counts['signal_injected']} signal injected",
            fontsize=10,
        )
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=110, format="png")
        finally:
            plt.close(fig)


def _draw_fit(fig, grid, i, mjj, scores, sr, gap, fraction, efficiency, title) -> None:
    from genhep.plots import _ratio_axes

    edges = default_edges(mjj, sr)
    in_sr = (mjj >= sr[0]) & (mjj < sr[1])
    sideband = ~in_sr & (mjj >= edges[0]) & (mjj < edges[-1])
    threshold = -np.inf if efficiency >= 1 else np.quantile(scores[sideband], 1 - efficiency)
    passed = scores >= threshold
    top, bottom = _ratio_axes(fig, grid, i)
    top.set_title(title, fontsize=9)
    if (passed & sideband).sum() < BUMP_MIN_EVENTS:
        top.text(0.5, 0.5, "too few events after the cut to fit", transform=top.transAxes)
        return
    fit = fit_sidebands(mjj[passed], edges, sr, SQRT_S, excluded=gap)
    centres = 0.5 * (edges[1:] + edges[:-1])
    scale = np.where(fit.signal_region, 1 / fraction, 1.0)  # the SR slice, to full size
    n, shown = fit.counts * scale, fit.fitted | fit.signal_region
    err = np.sqrt(fit.counts) * scale
    top.errorbar(centres[shown], n[shown], err[shown], fmt="o", ms=3, color="black", label="data")
    top.stairs(fit.expected, edges, color="tab:blue", label="dijet fit (sidebands)")
    top.axvspan(*sr, color="tab:orange", alpha=0.15, label="SR")
    top.axvspan(gap[0], sr[0], color="tab:gray", alpha=0.1)
    top.axvspan(sr[1], gap[1], color="tab:gray", alpha=0.1, label="not in the fit")
    top.set(yscale="log", ylabel="events per bin")
    top.legend(fontsize=7)
    with np.errstate(divide="ignore", invalid="ignore"):
        pull = np.where(err > 0, (n - fit.expected) / err, 0.0)
    bottom.bar(centres[shown], pull[shown], width=np.diff(edges)[shown], color="tab:blue")
    bottom.axhline(0, color="black", lw=0.6)
    bottom.set(ylim=(-4, 4), ylabel="pull", xlabel=r"$m_{jj}$ [TeV]")


def significance_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The summary's bump-hunt columns of a method: the significance with no cut and at
    the tightest fitted cut."""
    fitted = [r for r in rows or () if r.get("z") is not None]
    no_cut = next((r for r in fitted if r["efficiency"] == 1.0), None)
    cut = min(
        (r for r in fitted if r["efficiency"] < 1.0), key=lambda r: r["efficiency"], default=None
    )
    return {
        "z_no_cut": no_cut["z"] if no_cut else None,
        "bump_efficiency": cut["efficiency"] if cut else None,
        "bump_n_obs": cut["n_obs"] if cut else None,
        "bump_b": cut["b"] if cut else None,
        "bump_sigma_b": cut["sigma_b"] if cut else None,
        "bump_z": cut["z"] if cut else None,
        "bump_z_simple": cut.get("z_simple") if cut else None,
    }


def plot_significance_scan(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> None:
    """The look-elsewhere picture of a scan: the local significance of each SR window
    (x: its centre), one panel per injected signal level, a line per method at its
    tightest fitted cut (seeds as their own lines), and the significance without any cut
    in grey. Written atomically; a figure that says so where no point has a bump hunt."""
    import matplotlib.pyplot as plt

    from genhep.plots import _hep_style, text_figure

    rows = [r for r in rows if r.get("z_no_cut") is not None]
    if not rows:
        text_figure(path, "no bump hunt: no method scored on the sidebands")
        return
    levels = sorted({r["signal_injected"] for r in rows})
    methods = sorted({r["method"] for r in rows})
    with plt.style.context(_hep_style()):
        fig, axes = plt.subplots(
            1, len(levels), figsize=(5 * len(levels), 4), squeeze=False, layout="constrained"
        )
        for ax, level in zip(axes[0], levels, strict=True):
            at = [r for r in rows if r["signal_injected"] == level]
            for seed in sorted({r["seed"] for r in at}):
                line = sorted((r for r in at if r["seed"] == seed), key=lambda r: r["window"])
                first = seed == min(r["seed"] for r in at)
                ax.plot(
                    [r["window"] for r in line if r["method"] == line[0]["method"]],
                    [r["z_no_cut"] for r in line if r["method"] == line[0]["method"]],
                    "s--",
                    color="tab:gray",
                    ms=3,
                    label="no cut" if first else None,
                )
                for i, method in enumerate(methods):
                    pts = [r for r in line if r["method"] == method and r["bump_z"] is not None]
                    ax.plot(
                        [r["window"] for r in pts],
                        [r["bump_z"] for r in pts],
                        "o-",
                        color=plt.get_cmap("tab10")(i % 10),
                        ms=4,
                        label=method if first else None,
                    )
            ax.axhline(0, color="black", lw=0.6)
            for z in (-2, 2):
                ax.axhline(z, color="tab:gray", lw=0.6, ls=":")
            ax.set(
                xlabel="SR centre [TeV]",
                ylabel="local significance Z",
                title=f"{level} signal events injected",
            )
            ax.legend(fontsize=7)
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=110, format="png")
        finally:
            plt.close(fig)
