"""Plots written by the workflow (matplotlib, no display needed)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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
