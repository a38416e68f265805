"""CATHODE's density estimator: the reference recipe against a large-batch recipe.

The reference is the published CATHODE setting (affine MAF, 15 MADE blocks of 128
hidden units, batch 256, Adam 1e-4, 100 epochs), run with genhep's own ``Trainer`` on
the same data, so the comparison isolates the recipe. A fast recipe trains the same
architecture with large batches, a larger learning rate and cosine decay. For each
recipe this records the wall time, the best validation loss, and the time at which the
validation loss first reached the reference's best (time to target); then the
sampling speed of the trained model.

Data: the sideband training and validation splits the CATHODE branch writes
(``results/cathode/sr*/seed*/s*/data/sb_{train,val}.h5``), e.g. after

    snakemake --cores all --configfile config/cathode_cpu.yaml \\
        results/cathode/sr3.50/seed0/s775/data/sb_train.h5

    python benchmarks/density_speed.py --data results/cathode/sr3.50/seed0/s775/data \\
        --train-events 500000 --device cuda --fast 16384:0.003:200
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from model_speed import timed

from genhep.contracts import load_split
from genhep.models import build_model
from genhep.training import Trainer, TrainSettings, resolve_device, seed_everything

CATHODE_MAF = {"transforms": 15, "hidden": 128, "layers": 1}


@dataclass(frozen=True)
class Recipe:
    name: str
    batch_size: int
    lr: float
    epochs: int
    lr_schedule: str = "constant"

    @classmethod
    def parse(cls, text: str) -> Recipe:
        """``BATCH:LR:EPOCHS`` with cosine decay, e.g. ``16384:0.003:200``."""
        batch, lr, epochs = text.split(":")
        return cls(f"batch {batch}, lr {lr}, cosine", int(batch), float(lr), int(epochs), "cosine")


REFERENCE = Recipe("reference: batch 256, lr 1e-4", 256, 1e-4, 100)


def load_tensors(path: Path, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    split = load_split(path)
    x = torch.as_tensor(split["features"][:n], dtype=torch.float32)
    c = torch.as_tensor(split["context"][:n], dtype=torch.float32)
    return x, c


def time_to_target(history: list[dict], target: float) -> float | None:
    """Seconds of training until the validation loss first reached ``target``."""
    for record in history:
        if record["val_loss"] <= target:
            return record["seconds"]
    return None


def train_recipe(recipe, data, hparams, device, seed, amp=False, tf32=False):
    x, c, xv, cv = data
    seed_everything(seed)
    model = build_model("maf", x.shape[1], c.shape[1], hparams)
    settings = TrainSettings(
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        lr_schedule=recipe.lr_schedule,
        patience=0,
        device=device,
        seed=seed,
        amp=amp,
        tf32=tf32,
    )
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    result = Trainer(model, settings, progress=False).fit(x, c, xv, cv)
    return model, {
        **asdict(recipe),
        "seconds": result.seconds,
        "best_val_loss": result.best_val_loss,
        "best_epoch": result.best_epoch,
        "train_events_per_s": result.events_per_second,
        "peak_gpu_mb": torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
        "history": [{"val_loss": h["val_loss"], "seconds": h["seconds"]} for h in result.history],
    }


def sampling_speed(model, context, batch, repeats, dev):
    """Median events/s of drawing ``len(context)`` events in chunks of ``batch``."""
    model.to(dev).eval()
    context = context.to(dev)

    def draw():
        for start in range(0, len(context), batch):
            model.sample(len(context[start : start + batch]), context[start : start + batch])

    return len(context) / timed(draw, dev, repeats)


def device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"


def add_speedups(rows: list[dict], target: float) -> None:
    """Each row's time to the reference's best validation loss, and its speed-up: the
    reference's own time to that loss (the epoch it reached it, not its whole run, which
    goes on for nothing after its best epoch) over the row's. ``rows[0]`` is the reference."""
    for row in rows:
        row["time_to_reference_loss_s"] = time_to_target(row["history"], target)
    reference_time = rows[0]["time_to_reference_loss_s"]
    for row in rows[1:]:
        reached = row["time_to_reference_loss_s"]
        row["speedup_vs_reference"] = reference_time / reached if reached else None
    rows[0]["speedup_vs_reference"] = None


def check_reusable(
    reuse: dict, hparams: dict, train_events: int, val_events: int, device: str, threads: int
) -> None:
    """An earlier reference is only comparable when it trained the same model on as many
    events, on the same device with as many CPU threads: else its times mean nothing here."""
    wanted = {"model": hparams, "train_events": train_events, "val_events": val_events,
              "device": device, "threads": threads}  # fmt: skip
    differ = [f"{k} {reuse.get(k)!r} (here {v!r})" for k, v in wanted.items() if reuse.get(k) != v]
    if differ:
        raise SystemExit(
            "--reuse-reference: that reference was taken with another " + "; ".join(differ)
        )


def run(
    data_dir: Path,
    device: str = "cpu",
    train_events: int | None = None,
    val_events: int | None = None,
    reference_epochs: int = 100,
    fast: list[str] = (),
    hparams: dict | None = None,
    sample_events: int = 1_000_000,
    sample_batch: int = 1_000_000,
    repeats: int = 3,
    seed: int = 1,
    amp: bool = False,
    tf32: bool = False,
    reuse: dict | None = None,
) -> dict:
    """``reuse``: an earlier result of this function on the same data and model, whose
    reference row is taken instead of training the reference again (it is the slow one)."""
    hparams = hparams or CATHODE_MAF
    dev = resolve_device(device)
    x, c = load_tensors(data_dir / "sb_train.h5", train_events)
    xv, cv = load_tensors(data_dir / "sb_val.h5", val_events)
    data = (x, c, xv, cv)
    reference = Recipe(REFERENCE.name, 256, 1e-4, reference_epochs)
    rows = []
    if reuse is not None:
        check_reusable(reuse, hparams, len(x), len(xv), device_name(dev), torch.get_num_threads())
        ref_row = {**reuse["recipes"][0], "reused": True}
    else:
        _, ref_row = train_recipe(reference, data, hparams, device, seed)
    rows.append(ref_row)
    target = ref_row["best_val_loss"]
    for text in fast:
        model, row = train_recipe(Recipe.parse(text), data, hparams, device, seed, amp, tf32)
        row["sample_events_per_s"] = sampling_speed(
            model, cv[torch.randint(len(cv), (sample_events,))], sample_batch, repeats, dev
        )
        rows.append(row)
    add_speedups(rows, target)
    return {
        "device": device_name(dev),
        "threads": torch.get_num_threads(),
        "model": hparams,
        "train_events": len(x),
        "val_events": len(xv),
        "reference_val_loss": target,
        "recipes": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"CATHODE density estimator (MAF {result['model']}) on {result['device']}, "
        f"{result['train_events']:,} training / {result['val_events']:,} validation events",
        "",
        "| recipe | epochs | train s | best val loss | s to reference loss | speed-up | "
        "train events/s | sample events/s | peak GPU MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["recipes"]:
        ttt = r["time_to_reference_loss_s"]
        lines.append(
            f"| {r['name']} | {r['epochs']} | {r['seconds']:.1f} | {r['best_val_loss']:.4f} | "
            + (f"{ttt:.1f}" if ttt is not None else "not reached")
            + " | "
            + (f"{r['speedup_vs_reference']:.1f}x" if r["speedup_vs_reference"] else "")
            + f" | {r['train_events_per_s']:,.0f} | "
            + (f"{r['sample_events_per_s']:,.0f}" if "sample_events_per_s" in r else "")
            + " | "
            + (f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "")
            + " |"
        )
    return "\n".join(lines)
