"""Plots of generated particle clouds against the truth, for one jet class and family.

Beside the tabular plots (genhep.plots), whose style, ratio-panel layout and binning they
reuse: each observable is drawn as the truth (points with statistical errors) and the
generated jets (line), normalised, with a generated/truth ratio panel whose grey band is
the truth's statistical uncertainty. Bins are shared and set by the truth alone (its
0.1-99.9 % quantile range, log-spaced for pT_rel and EFPs, one per integer for the
multiplicity), so a generator cannot move them; values outside go to the edge bins.

Every observable is histogrammed over chunks of jets, so memory stays bounded by a chunk
(no copy of all jets × N particles beyond the inputs); 10⁵ jets take a few seconds.

The jet mass and pT are those of the sum of the real, massless constituents (the
convention of JetNet's W1M, genhep.clouds.metrics.relative_mass), times the stored jet
pT and shown in GeV: for generated clouds the stored pT is the condition, so only the
constituent sum tests the generator. Without a stored ``pt`` they stay relative (m/pT_jet).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import mplhep
import numpy as np

from genhep.clouds import CLASS_NAMES, Clouds
from genhep.clouds.metrics import relative_mass
from genhep.io.atomic import atomic_path
from genhep.plots import _edges, _hep_style, _ratio_axes, plt  # plt: with the Agg backend

log = logging.getLogger(__name__)

# File stems of the figures plot_cloud_comparison writes (efps only when EFPs are given).
FIGURES = ("jet_features", "particle_features", "efps", "jet_image")
CHUNK_SLOTS = 200_000  # jets x N particle slots taken at a time: bounds the temporaries
EDGE_SAMPLE_SLOTS = 600_000  # slots of the truth jets (evenly strided) that set the bins
RANKS = (1, 5, 20)  # the particles (by pT) whose pT_rel is plotted
ORDINAL = {1: "1st", 2: "2nd", 3: "3rd"}
GEN_COLOR = "tab:blue"  # generated; the truth is black


# --- binning and histograms ----------------------------------------------------------


def _chunks(clouds: Clouds) -> Iterator[slice]:
    size = max(1, CHUNK_SLOTS // max(1, clouds.n_particles))
    for start in range(0, len(clouds), size):
        yield slice(start, min(len(clouds), start + size))


def _subsample(clouds: Clouds) -> tuple[np.ndarray, np.ndarray]:
    """(particles, mask) of evenly strided jets, at most EDGE_SAMPLE_SLOTS slots (views)."""
    stride = max(1, -(-len(clouds) // max(1, EDGE_SAMPLE_SLOTS // clouds.n_particles)))
    return clouds.particles[::stride], clouds.mask[::stride]


def _log_edges(truth: np.ndarray, bins: int) -> np.ndarray:
    """Log-spaced bins over the truth's positive 0.1-99.9 % range (linear if none > 0)."""
    positive = truth[truth > 0]
    if len(positive) == 0:
        return _edges(truth, bins)
    lo, hi = np.percentile(positive, [0.1, 99.9])
    if hi <= lo:
        lo, hi = lo / 2, hi * 2
    return np.geomspace(lo, hi, bins + 1)


def _integer_edges(truth: np.ndarray, bins: int) -> np.ndarray:
    """Bins centred on integers over the truth's 0.1-99.9 % range, at most ``bins`` of them."""
    lo, hi = np.rint(np.percentile(truth, [0.1, 99.9]))
    step = max(1, int(np.ceil((hi - lo + 1) / bins)))
    return lo - 0.5 + step * np.arange(int(np.ceil((hi - lo + 1) / step)) + 1)


def _counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.histogram(np.clip(values, edges[0], edges[-1]), edges)[0]


def _normalise(counts: np.ndarray, n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Density and its Poisson error from counts of ``n`` entries (zeros when n = 0)."""
    scale = 1.0 / (max(n, 1) * np.diff(edges))
    return counts * scale, np.sqrt(counts) * scale


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN (left out of the plot) where the denominator is 0:
    an empty truth bin has no ratio, and no division warning is raised."""
    num, den = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass
class _Panel:
    """One observable: its truth and generated counts in the shared bins."""

    xlabel: str
    edges: np.ndarray
    truth: tuple[np.ndarray, int]  # (counts, entries)
    generated: tuple[np.ndarray, int]
    logx: bool = False
    logy: bool = False


def _panel(xlabel: str, truth, generated, edges: np.ndarray, **scales) -> _Panel:
    """A panel of two arrays small enough to hold at once (one value per jet)."""
    counts = [(_counts(a, edges), len(a)) for a in (truth, generated)]
    return _Panel(xlabel, edges, *counts, **scales)


def _particle_counts(clouds: Clouds, feature: int, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts of one feature over all real particles, a chunk of jets at a time."""
    counts, n = np.zeros(len(edges) - 1, dtype=np.int64), 0
    for s in _chunks(clouds):
        values = clouds.particles[s, :, feature][clouds.mask[s]]
        counts += _counts(values, edges)
        n += len(values)
    return counts, n


def _ranked_pt(clouds: Clouds, rank: int) -> np.ndarray:
    """pT_rel of the ``rank``-th hardest particle, of the jets that have that many."""
    if clouds.n_particles < rank:
        return np.zeros(0, dtype=np.float32)
    return clouds.particles[:, rank - 1, 2][clouds.mask[:, rank - 1]]


def _jet_observables(clouds: Clouds, in_gev: bool) -> dict[str, np.ndarray]:
    """Per jet: mass and pT of the constituent sum (GeV, or relative), multiplicity."""
    n = len(clouds)
    mass, pt = np.empty(n), np.empty(n)
    for s in _chunks(clouds):
        p, m = clouds.particles[s], clouds.mask[s]
        mass[s] = relative_mass(p, m)
        z, phi = p[..., 2].astype(np.float64), p[..., 1].astype(np.float64)  # padding is 0
        pt[s] = np.hypot((z * np.cos(phi)).sum(axis=1), (z * np.sin(phi)).sum(axis=1))
    scale = 1000.0 * clouds.jets["pt"] if in_gev else 1.0  # TeV -> GeV
    return {"mass": mass * scale, "pt": pt * scale, "multiplicity": clouds.mask.sum(axis=1)}


# --- drawing -------------------------------------------------------------------------


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def _draw(fig, grid, i: int, panel: _Panel, family: str) -> None:
    """Truth points, generated line, and the generated/truth ratio with the truth band."""
    top, bottom = _ratio_axes(fig, grid, i)
    edges = panel.edges
    (t, t_err), (g, g_err) = (_normalise(*c, edges) for c in (panel.truth, panel.generated))
    style = {"histtype": "errorbar", "color": "black", "markersize": 3}
    mplhep.histplot(t, edges, yerr=t_err, label="truth", ax=top, **style)
    mplhep.histplot(g, edges, histtype="step", color=GEN_COLOR, label=family, ax=top)
    band = ratio(t_err, t)
    bottom.stairs(1 + band, edges, baseline=1 - band, fill=True, color="0.8")
    centers = np.sqrt(edges[1:] * edges[:-1]) if panel.logx else 0.5 * (edges[1:] + edges[:-1])
    bottom.errorbar(centers, ratio(g, t), yerr=ratio(g_err, t), fmt="none", color=GEN_COLOR, lw=0.8)
    bottom.stairs(ratio(g, t), edges, color=GEN_COLOR, lw=1.2)
    if panel.logx:
        top.set_xscale("log")
    if panel.logy and t.max() > 0:
        top.set_yscale("log")
    top.tick_params(which="both", labelbottom=False)  # (the log scale brings minor labels)
    top.set_ylabel("normalised")
    top.legend(loc="best")
    bottom.axhline(1, color="black", lw=0.6)
    # no tick at 1.5, where it would collide with the top panel's lowest label
    bottom.set(ylim=(0.5, 1.5), yticks=[0.75, 1.0, 1.25])
    bottom.set(ylabel="gen. / truth", xlabel=panel.xlabel)


def _comparison_figure(panels: Sequence[_Panel], path: Path, title: str, family: str) -> Path:
    """The panels, three a row. Fixed margins (in inches), not the constrained layout: that
    one recomputes every tick label twice and takes ~3x as long to draw."""
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    width, height = 4.2 * ncols, 4.0 * nrows
    with plt.style.context(_hep_style()):
        fig = plt.figure(figsize=(width, height))
        m = {"left": 0.75 / width, "right": 1 - 0.2 / width, "wspace": 0.3, "hspace": 0.25}
        grid = fig.add_gridspec(nrows, ncols, bottom=0.55 / height, top=1 - 0.45 / height, **m)
        for i, panel in enumerate(panels):
            _draw(fig, grid, i, panel, family)
        fig.suptitle(title)
        return _save(fig, path)


def _jet_panels(truth: Clouds, generated: Clouds, bins: int) -> list[_Panel]:
    """Jet mass and pT of the constituent sum, and the multiplicity (real particles)."""
    in_gev = "pt" in truth.jets and "pt" in generated.jets
    t, g = _jet_observables(truth, in_gev), _jet_observables(generated, in_gev)
    unit = " [GeV]" if in_gev else r" / $p_\mathrm{T}^\mathrm{jet}$"
    return [
        _panel(label, t[key], g[key], edges(t[key], bins))
        for key, label, edges in (
            ("mass", r"jet mass $m_j$ (constituents)" + unit, _edges),
            ("pt", r"jet $p_\mathrm{T}$ (constituents)" + unit, _edges),
            ("multiplicity", "particle multiplicity", _integer_edges),
        )
    ]


def _particle_panels(truth: Clouds, generated: Clouds, bins: int) -> list[_Panel]:
    """pT_rel of the 1st, 5th and 20th particle (a panel skipped where the truth has no
    jet with that many), Δη and Δφ of all real particles."""
    panels = []
    for rank in RANKS:
        t, g = _ranked_pt(truth, rank), _ranked_pt(generated, rank)
        if len(t) == 0:
            log.info("no truth jet has %d particles: panel skipped", rank)
            continue
        label = rf"$p_\mathrm{{T}}^\mathrm{{rel}}$ of the {ORDINAL.get(rank, f'{rank}th')} particle"
        panels.append(_panel(label, t, g, _log_edges(t, bins), logx=True, logy=True))
    sample, sample_mask = _subsample(truth)
    for feature, label in ((0, r"particle $\Delta\eta$"), (1, r"particle $\Delta\phi$ [rad]")):
        edges = _edges(sample[..., feature][sample_mask], bins)
        counts = [_particle_counts(c, feature, edges) for c in (truth, generated)]
        panels.append(_Panel(label, edges, *counts, logy=True))
    return panels


def _efp_panels(truth_efps, generated_efps, columns, names, bins: int) -> list[_Panel]:
    """The EFPs of ``columns`` of (jets, k) arrays; log bins where the truth's are positive."""
    panels = []
    for j, column in enumerate(columns):
        for a in (truth_efps, generated_efps):
            if a.ndim != 2 or not 0 <= column < a.shape[1]:
                raise ValueError(f"EFP column {column} is not in EFPs of shape {a.shape}")
        t, g = (a[:, column][np.isfinite(a[:, column])] for a in (truth_efps, generated_efps))
        log_scale = len(t) > 0 and np.percentile(t, 0.1) > 0
        edges = _log_edges(t, bins) if log_scale else _edges(t, bins)
        label = names[j] if names else f"EFP {column}"
        panels.append(_panel(label, t, g, edges, logx=log_scale, logy=log_scale))
    return panels


# --- the average jet image -------------------------------------------------------------


def image_edges(
    clouds: Clouds, bins: int = 32, quantile: float = 99.5
) -> tuple[np.ndarray, np.ndarray]:
    """Square, centred (Δη, Δφ) bins reaching the ``quantile`` % of the real particles'
    |Δη| and |Δφ| (of ``clouds``, the truth): (eta_edges, phi_edges)."""
    sample, mask = _subsample(clouds)
    offsets = np.abs(sample[..., :2][mask])
    reach = float(np.percentile(offsets, quantile)) if offsets.size else 1.0
    edges = np.linspace(-reach, reach, bins + 1) if reach > 0 else np.linspace(-1, 1, bins + 1)
    return edges, edges.copy()


def average_image(clouds: Clouds, edges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The mean over jets of each jet's image: its particles' pT_rel summed per (Δη, Δφ)
    bin, (eta bins, phi bins). Particles outside the edges count in the edge bins, so the
    image sums to the mean Σ pT_rel per jet (1 for complete jets)."""
    eta_edges, phi_edges = (np.asarray(e, dtype=np.float64) for e in edges)
    image = np.zeros((len(eta_edges) - 1, len(phi_edges) - 1))
    for s in _chunks(clouds):
        p = clouds.particles[s][clouds.mask[s]].astype(np.float64)  # this chunk's particles
        eta = np.clip(p[:, 0], eta_edges[0], eta_edges[-1])
        phi = np.clip(p[:, 1], phi_edges[0], phi_edges[-1])
        image += np.histogram2d(eta, phi, bins=(eta_edges, phi_edges), weights=p[:, 2])[0]
    return image / max(len(clouds), 1)


def plot_jet_image(
    truth: Clouds,
    generated: Clouds,
    path: str | os.PathLike,
    title: str,
    family: str,
    bins: int = 32,
) -> Path:
    """Average jet images: generated and truth on one log colour scale, and their
    difference (generated − truth) on a diverging one."""
    edges = image_edges(truth, bins)
    gen, tru = average_image(generated, edges), average_image(truth, edges)
    vmax = max(gen.max(), tru.max())
    positive = np.concatenate([tru[tru > 0], gen[gen > 0]])
    norm = mpl.colors.LogNorm(max(positive.min(), vmax * 1e-5), vmax) if vmax > 0 else None
    cmap = mpl.colormaps["viridis"]
    cmap = cmap.with_extremes(bad=cmap(0.0), under=cmap(0.0))  # empty bins: the lowest colour
    limit = max(float(np.abs(gen - tru).max()), 1e-12)
    panels = [
        (family, gen, {"norm": norm, "cmap": cmap}),
        ("truth", tru, {"norm": norm, "cmap": cmap}),
        (f"{family} − truth", gen - tru, {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}),
    ]
    z_label = r"mean $\sum p_\mathrm{T}^\mathrm{rel}$ per bin"
    with plt.style.context(_hep_style()):
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))  # fixed margins, as _comparison_figure
        fig.subplots_adjust(left=0.05, right=0.96, bottom=0.12, top=0.86, wspace=0.35)
        for ax, (name, image, style) in zip(axes, panels, strict=True):
            mesh = ax.pcolormesh(edges[0], edges[1], image.T, **style)
            ax.set(title=name, xlabel=r"$\Delta\eta$", ylabel=r"$\Delta\phi$ [rad]", aspect="equal")
            fig.colorbar(mesh, ax=ax, shrink=0.8, label=z_label)
        fig.suptitle(title)
        return _save(fig, Path(path))


# --- one class and family ----------------------------------------------------------------


def class_title(family: str, jet_class: str) -> str:
    """'gluon jets (g30): <family> vs truth' for a class or a dataset (the class, then N, as
    JetNet names them); a class not in CLASS_NAMES by its own name."""
    name = CLASS_NAMES.get(jet_class.rstrip("0123456789"), jet_class)
    return f"{name} jets ({jet_class}): {family} vs truth"


def plot_cloud_comparison(
    truth: Clouds,
    generated: Clouds,
    out_dir: str | os.PathLike,
    family: str,
    jet_class: str,
    efps: tuple[np.ndarray, np.ndarray] | None = None,
    efp_columns: Sequence[int] = (0, 1),
    efp_names: Sequence[str] | None = None,
    bins: int = 50,
    image_bins: int = 32,
    prefix: str = "",
) -> list[Path]:
    """Every figure of one class and family: ``out_dir/<prefix><stem>.png`` for the stems
    of FIGURES (``efps`` only when ``efps`` = (truth EFPs, generated EFPs) is given, each
    (jets, k), ``efp_columns`` picking two). Returns the paths written, in that order."""
    if len(truth) == 0:
        raise ValueError(f"no truth jets to compare {family} ({jet_class}) with")
    out, title = Path(out_dir), class_title(family, jet_class)
    figures = [
        ("jet_features", _jet_panels(truth, generated, bins)),
        ("particle_features", _particle_panels(truth, generated, bins)),
    ]
    if efps is not None:
        figures.append(("efps", _efp_panels(*efps, efp_columns, efp_names, bins)))
    paths = [_comparison_figure(p, out / f"{prefix}{s}.png", title, family) for s, p in figures]
    path = out / f"{prefix}jet_image.png"
    return [*paths, plot_jet_image(truth, generated, path, title, family, image_bins)]
