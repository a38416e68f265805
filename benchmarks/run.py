"""genhep benchmarks: speed and memory, printed as Markdown tables (and JSON with --json).

    python benchmarks/run.py                          # data stages at 10^6 events + every family
    python benchmarks/run.py --stages models --device cuda --config config/lhco.yaml
    python benchmarks/run.py --events 20000 --train-events 2000 --sample-events 2000

The model benchmarks take each family's hyperparameters from --config (default: the
embedded default run) and run one thread per job on CPU, as the workflow does.
Timings are the median of --repeats runs after one warm-up run (device-synchronized).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from model_speed import bench_models  # noqa: E402
from model_speed import markdown as models_markdown  # noqa: E402

from genhep.data.toy import ToyParams, iter_chunks, write_root  # noqa: E402
from genhep.resources import measure_command  # noqa: E402


def median_time(fn, repeats):
    fn()  # warm-up: imports, caches, first allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_toy(n_events, repeats, workdir):
    params = ToyParams(n_events=n_events, seed=1)
    gen = median_time(lambda: sum(len(c["label"]) for c in iter_chunks(params)), repeats)
    write = median_time(lambda: write_root(params, workdir / "toy.root"), repeats)
    return [
        {
            "benchmark": "toy generation (numpy arrays, 1 core)",
            "events": n_events,
            "seconds": gen,
            "events_per_s": n_events / gen,
        },
        {
            "benchmark": "toy generation + ROOT TTree writing",
            "events": n_events,
            "seconds": write,
            "events_per_s": n_events / write,
        },
    ]


def bench_ingest(n_events, workdir, chunk_sizes):
    rows = []
    for chunk in chunk_sizes:
        cmd = [
            sys.executable,
            REPO / "workflow" / "scripts" / "ingest.py",
            "--inputs",
            workdir / "toy.root",
            "--mapping",
            '"genhep"',
            "--output",
            workdir / "f.h5",
            "--chunk-size",
            chunk,
        ]
        result = measure_command(cmd)
        if result["returncode"] != 0:
            raise RuntimeError(f"ingest failed with chunk size {chunk}")
        rows.append(
            {
                "benchmark": f"ingest ROOT -> HDF5, chunk {chunk}",
                "events": n_events,
                "seconds": result["seconds"],
                "events_per_s": n_events / result["seconds"],
                "peak_rss_mb": result["peak_rss_mb"],
            }
        )
    return rows


def markdown(rows):
    lines = [
        "| benchmark | events | seconds | events/s | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        rss = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else ""
        lines.append(
            f"| {r['benchmark']} | {r['events']:,} | {r['seconds']:.2f} | "
            f"{r['events_per_s']:,.0f} | {rss} |"
        )
    return "\n".join(lines)


def batch_size(config, family):
    """The batch size the workflow trains ``family`` with under ``config``."""
    own = config.get("families", {}).get(family, {}).get("train", {})
    return own.get("batch_size", config.get("train", {}).get("batch_size", 512))


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--stages", nargs="+", choices=["data", "models"], default=["data", "models"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, help="also write the results here")
    data = p.add_argument_group("data stages")
    data.add_argument("--events", type=int, default=1_000_000)
    data.add_argument("--chunk-sizes", type=int, nargs="+", default=[10_000, 100_000])
    models = p.add_argument_group("models")
    models.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    models.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    models.add_argument("--families", nargs="+", help="default: the config's train.families")
    models.add_argument("--batch-sizes", type=int, nargs="+", help="default: the config's")
    models.add_argument("--train-events", type=int, default=50_000)
    models.add_argument("--sample-events", type=int, default=100_000)
    models.add_argument("--sample-batch", type=int, default=100_000)
    models.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = p.parse_args()
    import numpy
    import torch
    import uproot
    import yaml

    info = {
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "uproot": uproot.__version__,
        "torch": str(torch.__version__),
        "repeats": args.repeats,
    }
    print(f"genhep benchmarks on {info}\n")
    results = {"info": info}
    if "data" in args.stages:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            rows = bench_toy(args.events, args.repeats, workdir)
            rows += bench_ingest(args.events, workdir, args.chunk_sizes)
        print(markdown(rows) + "\n")
        results["results"] = rows
    if "models" in args.stages:
        torch.set_num_threads(args.threads)
        config = yaml.safe_load(args.config.read_text())
        train = config.get("train", {})
        families = args.families or train.get("families") or ["gan", "wgan", "vae", "maf"]
        hparams = {f: s.get("model", {}) for f, s in config.get("families", {}).items()}
        rows = bench_models(
            families,
            hparams,
            args.device,
            {f: args.batch_sizes or [batch_size(config, f)] for f in families},
            args.train_events,
            args.sample_events,
            args.sample_batch,
            args.repeats,
        )
        print(models_markdown(rows))
        results["models"] = rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
