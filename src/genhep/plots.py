"""Plots written by the workflow (matplotlib, no display needed)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from genhep.io.atomic import atomic_path  # noqa: E402


def plot_loss_history(
    history: list[dict], path: str | os.PathLike, title: str, best_epoch: int
) -> None:
    """Training losses and the validation loss per epoch, the selected epoch marked."""
    epochs = [h["epoch"] for h in history]
    train_keys = [k for k in history[0] if k.startswith("train_")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for key in train_keys:
        axes[0].plot(epochs, [h[key] for h in history], label=key.removeprefix("train_"))
    axes[0].set(xlabel="epoch", ylabel="training loss", title=f"{title}: training")
    axes[0].legend()
    axes[1].plot(epochs, [h["val_loss"] for h in history], color="black", label="validation")
    axes[1].axvline(best_epoch, ls="--", color="tab:red", label=f"best epoch {best_epoch}")
    axes[1].set(xlabel="epoch", ylabel="validation loss", title=f"{title}: validation")
    axes[1].legend()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


# --- evaluation plots ------------------------------------------------------------------


def _hep_style() -> dict:
    """mplhep's ROOT-like style, at a font size that fits several panels per figure."""
    return {**mplhep.style.ROOT, "font.size": 10, "axes.titlesize": 10, "legend.fontsize": 8}


def _edges(truth: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins over the truth's 0.1-99.9% range (outliers go to the edge bins)."""
    lo, hi = np.percentile(truth, [0.1, 99.9])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _density(x: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised histogram and its statistical (Poisson) error."""
    counts, _ = np.histogram(np.clip(x, edges[0], edges[-1]), edges)
    scale = 1.0 / (len(x) * np.diff(edges))
    return counts * scale, np.sqrt(counts) * scale


def _label(column: str, unit: str) -> str:
    return f"{column} [{unit}]" if unit else column


def _ratio_axes(fig, grid, i):
    cell = grid[i // grid.ncols, i % grid.ncols].subgridspec(2, 1, height_ratios=[3, 1], hspace=0)
    top = fig.add_subplot(cell[0])
    bottom = fig.add_subplot(cell[1], sharex=top)
    top.tick_params(labelbottom=False)
    return top, bottom


def plot_feature_histograms(
    truth: np.ndarray,
    generated: dict[str, np.ndarray] | np.ndarray,
    columns: list[str],
    units: dict[str, str],
    path: str | os.PathLike,
    title: str,
    bins: int = 50,
) -> None:
    """Per column: truth (points) and generated (lines), with a generated/truth ratio panel.

    ``generated`` is one array, or {label: array} to overlay several models. The grey
    band in the ratio panel is the truth's statistical uncertainty.
    """
    if isinstance(generated, np.ndarray):
        generated = {title: generated}
    ncols = min(3, len(columns))
    nrows = -(-len(columns) // ncols)
    with plt.style.context(_hep_style()):
        fig = plt.figure(figsize=(4.2 * ncols, 4.0 * nrows), layout="constrained")
        grid = fig.add_gridspec(nrows, ncols)
        for i, column in enumerate(columns):
            top, bottom = _ratio_axes(fig, grid, i)
            edges = _edges(truth[:, i], bins)
            t, t_err = _density(truth[:, i], edges)
            mplhep.histplot(
                t,
                edges,
                yerr=t_err,
                histtype="errorbar",
                color="black",
                label="truth",
                ax=top,
                markersize=3,
            )
            safe = np.where(t > 0, t, np.nan)
            bottom.stairs(
                1 + t_err / safe,
                edges,
                baseline=1 - t_err / safe,
                fill=True,
                color="0.8",
                label="truth stat.",
            )
            for k, (label, sample) in enumerate(generated.items()):
                g, g_err = _density(sample[:, i], edges)
                color = plt.get_cmap("tab10")(k % 10)  # distinct for up to ten models
                mplhep.histplot(g, edges, histtype="step", label=label, ax=top, color=color)
                centers = 0.5 * (edges[1:] + edges[:-1])
                bottom.errorbar(
                    centers, g / safe, yerr=g_err / safe, fmt="none", color=color, lw=0.8
                )
                bottom.stairs(g / safe, edges, color=color, lw=1.2)
            top.set_ylabel("normalised")
            top.legend(loc="best")
            bottom.axhline(1, color="black", lw=0.6)
            bottom.set_ylim(0.5, 1.5)
            bottom.set_ylabel("gen. / truth")
            bottom.set_xlabel(_label(column, units.get(column, "")))
        fig.suptitle(title)
        fig.savefig(path, dpi=100, format="png")
        plt.close(fig)


def plot_correlations(
    truth: np.ndarray,
    generated: np.ndarray,
    columns: list[str],
    path: str | os.PathLike,
    title: str,
) -> None:
    """Pearson correlation matrices: truth, generated, and generated − truth."""
    c_truth = np.corrcoef(truth, rowvar=False)
    c_gen = np.corrcoef(generated, rowvar=False)
    panels = [
        ("truth", c_truth, 1.0),
        (title, c_gen, 1.0),
        ("generated − truth", c_gen - c_truth, None),
    ]
    diff_scale = max(0.05, float(np.abs(c_gen - c_truth).max()))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    for ax, (name, matrix, scale) in zip(axes, panels, strict=True):
        scale = scale or diff_scale
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
        ax.set_yticks(range(len(columns)), columns)
        for (r, c), value in np.ndenumerate(matrix):
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=8)
        ax.set_title(name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


def plot_metric_bars(
    rows: list[dict], keys: list[tuple[str, str]], path: str | os.PathLike
) -> None:
    """One panel per metric: a bar per family, the truth-vs-truth value as a dashed line.

    ``rows``: the leaderboard rows, the truth row first; ``keys``: (column, axis label).
    """
    truth, families = rows[0], rows[1:]
    names = [r["family"] for r in families]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8), layout="constrained")
    for ax, (key, label) in zip(np.atleast_1d(axes), keys, strict=True):
        values = [r.get(key) if r.get(key) is not None else np.nan for r in families]
        ax.bar(names, values, color="tab:blue")
        if truth.get(key) is not None:
            ax.axhline(truth[key], ls="--", color="black", label="truth vs truth")
            ax.legend()
        if key.startswith("auc"):
            ax.set_ylim(0.45, min(1.02, max(0.7, np.nanmax(values) + 0.05)))  # 0.5 is perfect
        ax.set_ylabel(label)
        ax.tick_params(axis="x", rotation=45)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


# --- CATHODE ----------------------------------------------------------------------------

_METHOD_STYLE = {"supervised": ("black", "--"), "idealized": ("tab:gray", "-")}


def _method_style(method: str, k: int) -> tuple:
    return _METHOD_STYLE.get(method, (plt.get_cmap("tab10")(k % 10), "-"))


def plot_sic_curves(
    tpr: np.ndarray,
    summaries: dict,
    kind: str,
    path: str | os.PathLike,
    title: str,
    fpr_floor: float,
) -> None:
    """SIC (or rejection) vs signal efficiency: each method's median over runs and its
    16–84% band; at FPRs below the floor the curves are lower bounds (FPR set to the floor)."""
    with plt.style.context(_hep_style()):
        fig, ax = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
        for k, (method, s) in enumerate(summaries.items()):
            color, ls = _method_style(method, k)
            lo, mid, hi = s[kind]
            ax.plot(tpr, mid, color=color, ls=ls, label=f"{method} ({s['runs']} runs)")
            ax.fill_between(tpr, lo, hi, color=color, alpha=0.2, lw=0)
        if kind == "sic":
            ax.axhline(1.0, color="tab:gray", lw=0.8, ls=":", label="random")
            ax.set_ylabel(r"SIC = $\epsilon_S / \sqrt{\epsilon_B}$")
        else:
            ax.set_yscale("log")
            ax.plot(
                tpr,
                1 / np.maximum(tpr, fpr_floor),
                color="tab:gray",
                lw=0.8,
                ls=":",
                label="random",
            )
            ax.set_ylabel(r"background rejection $1/\epsilon_B$")
        ax.set_xlabel(r"signal efficiency $\epsilon_S$")
        ax.set_xlim(0, 1)
        ax.set_title(f"{title}\nFPR floor {fpr_floor:.1e}", fontsize=8)
        ax.legend(loc="upper right")
        fig.savefig(path, dpi=110, format="png")
        plt.close(fig)


def plot_max_sic_scan(rows: list[dict], path: str | os.PathLike) -> None:
    """Max SIC vs S/B in the SR, one line per method (median and band over runs), one
    panel per signal-region window; seeds are shown as separate lines."""
    windows = sorted({r["window"] for r in rows})
    with plt.style.context(_hep_style()):
        fig, axes = plt.subplots(
            1, len(windows), figsize=(6 * len(windows), 4.5), squeeze=False, constrained_layout=True
        )
        for ax, window in zip(axes[0], windows, strict=True):
            lines = sorted({(r["method"], r["seed"]) for r in rows if r["window"] == window})
            methods = sorted({m for m, _ in lines})
            for method, seed in lines:
                pts = sorted(
                    (
                        r
                        for r in rows
                        if (r["window"], r["method"], r["seed"]) == (window, method, seed)
                    ),
                    key=lambda r: r["s_over_b"],
                )
                x = [100 * r["s_over_b"] for r in pts]
                color, ls = _method_style(method, methods.index(method))
                ax.plot(
                    x,
                    [r["max_sic_median"] for r in pts],
                    "o",
                    color=color,
                    ls=ls,
                    ms=3,
                    label=method if seed == min(s for m, s in lines if m == method) else None,
                )
                ax.fill_between(
                    x,
                    [r["max_sic_16"] for r in pts],
                    [r["max_sic_84"] for r in pts],
                    color=color,
                    alpha=0.15,
                    lw=0,
                )
            ax.axhline(1.0, color="tab:gray", lw=0.8, ls=":")
            ax.set(
                xlabel="S/B in the signal region [%]",
                ylabel="max SIC",
                title=f"SR centre {window:.2f} TeV",
            )
            ax.legend(loc="upper left")
        fig.savefig(path, dpi=110, format="png")
        plt.close(fig)


def text_figure(path: str | os.PathLike, text: str) -> None:
    """A figure that only says ``text``, written atomically: an output that exists where
    there is nothing to plot (no SIC in a window without signal, no method scored on the
    sidebands)."""
    fig = plt.figure(figsize=(6, 2))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
