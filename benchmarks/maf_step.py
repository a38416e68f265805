"""Where a CATHODE-sized MAF's optimizer step spends its time on a GPU.

One step (log-likelihood forward, backward, Adam) of the affine MAF with CATHODE's 15
MADE blocks of 128 units, on random data, at several batch sizes, with the switches of
benchmarks/NOTES.md sections 2, 4 and 5 flipped one at a time: the fused Adam (the
default on CUDA) against the multi-tensor one, a host synchronisation per step
(``loss.item()``), TF32 matrix products and bf16 autocast. Then three epochs of the real
training loop (500k training and 125k validation events at batch 4096). If the step
time does not grow with the batch and none of the switches moves it, the step is bound
by the host (Python and kernel launches), not by the GPU's arithmetic.

    python benchmarks/maf_step.py --device cuda --json maf_step.json
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from density_speed import CATHODE_MAF

from genhep.models import build_model
from genhep.models.base import adam
from genhep.training import Trainer, TrainSettings

VARIANTS = {
    "fused": {},
    "foreach": {"fused": False},
    "item": {"item": True},
    "tf32": {"tf32": True},
    "bf16": {"amp": True},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_ms(
    device, batch, steps, fused=True, item=False, tf32=False, amp=False, compile_mode=None
) -> float:
    """Mean milliseconds per optimizer step, after 10 warm-up steps."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.manual_seed(0)
    model = build_model("maf", 4, 1, CATHODE_MAF).to(device)
    params = model.parameters()
    opt = adam(params, 1e-3) if fused else torch.optim.Adam(params, lr=1e-3)
    x, c = torch.randn(batch, 4, device=device), torch.randn(batch, 1, device=device)

    def nll(x, c):
        return -model.log_prob(x, c).mean()

    # torch.compile fuses the elementwise work; "reduce-overhead" also replays the
    # forward and backward as CUDA graphs (one launch instead of hundreds).
    loss_fn = torch.compile(nll, mode=compile_mode) if compile_mode else nll

    def one() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(x, c)
        loss.backward()
        opt.step()
        if item:
            loss.item()

    for _ in range(10):
        one()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        one()
    _sync(device)
    torch.backends.cuda.matmul.allow_tf32 = False
    return (time.perf_counter() - start) / steps * 1e3


def loop_seconds(device, events: int, epochs: int = 3, batch: int = 4096) -> float:
    """Wall time of ``epochs`` epochs of genhep's training loop, validation included."""
    g = torch.Generator().manual_seed(1)
    xt, ct = torch.randn(events, 4, generator=g), torch.randn(events, 1, generator=g)
    xv, cv = xt[: events // 4].clone(), ct[: events // 4].clone()
    model = build_model("maf", 4, 1, CATHODE_MAF)
    settings = TrainSettings(
        epochs=epochs,
        batch_size=batch,
        lr=1e-3,
        patience=0,
        device=device.type,
        seed=1,
        checkpoint_every=epochs,
    )
    start = time.perf_counter()
    Trainer(model, settings, checkpoint=None, progress=False).fit(xt, ct, xv, cv)
    _sync(device)
    return time.perf_counter() - start


COMPILED = {"compile": {"compile_mode": "default"}, "graphs": {"compile_mode": "reduce-overhead"}}


def _timed_or_error(dev, batch, steps, kw):
    try:
        return step_ms(dev, batch, steps, **kw)
    except Exception as err:  # a variant that does not compile is a finding, not a crash
        return f"{type(err).__name__}: {str(err)[:200]}"


def run(device: str, batches, steps: int, events: int, compiled: bool = False) -> dict:
    dev = torch.device(device)
    variants = {**VARIANTS, **(COMPILED if compiled else {})}
    rows = [
        {"batch": b, **{name: _timed_or_error(dev, b, steps, kw) for name, kw in variants.items()}}
        for b in batches
    ]
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    return {
        "device": name,
        "torch": torch.__version__,
        "step_ms": rows,
        "loop_events": events,
        "loop_3_epochs_s": loop_seconds(dev, events),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--batches", type=int, nargs="+", default=[256, 4096, 16384])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--compile", action="store_true", help="also torch.compile, CUDA graphs")
    p.add_argument("--json")
    args = p.parse_args(argv)
    result = run(args.device, args.batches, args.steps, args.events, args.compile)
    names = [k for k in result["step_ms"][0] if k != "batch"]
    print("| batch | " + " | ".join(f"{v} ms" for v in names) + " |")
    print("|---:|" + "---:|" * len(names))
    for r in result["step_ms"]:
        cells = (f"{r[v]:.1f}" if isinstance(r[v], float) else r[v] for v in names)
        print(f"| {r['batch']} | " + " | ".join(cells) + " |")
    print(f"3 epochs of the loop at {args.events} events: {result['loop_3_epochs_s']:.2f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
