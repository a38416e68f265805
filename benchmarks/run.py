"""genhep benchmarks: speed and memory, printed as Markdown tables (and JSON with --json).

    python benchmarks/run.py                          # data stages at 10^6 events + every family
    python benchmarks/run.py --stages models --device cuda --config config/lhco.yaml
    python benchmarks/run.py --events 20000 --train-events 2000 --sample-events 2000
    python benchmarks/run.py --stages density --device cuda \
        --density-data results/cathode/sr3.50/seed0/s775/data --fast 16384:0.003:200
    python benchmarks/run.py --stages steps --results results      # after `make run`
    python benchmarks/run.py --stages cathode --cathode-config config/lhco.yaml

Stages: data (toy generation, ingestion), models (every family's training and sampling
throughput), density (CATHODE's density estimator: reference recipe against large-batch
recipes, time to the reference's validation loss; benchmarks/density_speed.py), steps
(sample quality against sampler steps for CFM and DDIM; benchmarks/sampler_steps.py),
cathode (the whole CATHODE branch through Snakemake, wall time per rule).

The model benchmarks take each family's hyperparameters from --config (default: the
embedded default run) and run one thread per job on CPU, as the workflow does.
Timings are the median of --repeats runs after one warm-up run (device-synchronized).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import density_speed  # noqa: E402
import sampler_steps  # noqa: E402
from model_speed import bench_models  # noqa: E402
from model_speed import markdown as models_markdown  # noqa: E402

from genhep.data.toy import iter_chunks, write_root  # noqa: E402
from genhep.resources import measure_command  # noqa: E402
from genhep.settings.data import ToySettings  # noqa: E402


def median_time(fn, repeats):
    fn()  # warm-up: imports, caches, first allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_toy(n_events, repeats, workdir):
    params = ToySettings(n_events=n_events, seed=1)
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
            "--params",
            json.dumps({"mapping": "genhep", "chunk_size": chunk}),
            "--roots",
            workdir / "toy.root",
            "--features",
            workdir / "f.h5",
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


def bench_cathode_branch(config: Path, workdir: Path, cores: str) -> dict:
    """Run the CATHODE branch of ``config`` from scratch; wall time and time per rule."""
    import csv

    start = time.perf_counter()
    result = subprocess.run(
        [
            Path(sys.executable).parent / "snakemake",
            "--snakefile",
            REPO / "workflow" / "Snakefile",
            "--directory",
            workdir,
            "--configfile",
            config,
            "--cores",
            cores,
            "results/cathode/summary.csv",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the CATHODE branch failed:\n{result.stderr[-3000:]}")
    per_rule: dict[str, float] = {}
    for tsv in (workdir / "results" / "benchmarks" / "cathode").rglob("*.tsv"):
        with open(tsv) as f:
            seconds = float(next(csv.DictReader(f, delimiter="\t"))["s"])
        rule = tsv.stem.split("_")[0]
        per_rule[rule] = per_rule.get(rule, 0.0) + seconds
    return {"config": str(config), "wall_seconds": wall, "job_seconds_by_kind": per_rule}


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
    p.add_argument(
        "--stages",
        nargs="+",
        choices=["data", "models", "density", "steps", "cathode"],
        default=["data", "models"],
    )
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
    density = p.add_argument_group("CATHODE density estimator (density_speed.py)")
    density.add_argument("--density-data", type=Path, help="a directory with sb_train/val.h5")
    density.add_argument("--density-train-events", type=int, help="default: all")
    density.add_argument("--density-val-events", type=int, help="default: all")
    density.add_argument("--reference-epochs", type=int, default=100)
    density.add_argument(
        "--fast", nargs="*", default=["16384:0.003:200"], help="BATCH:LR:EPOCHS (cosine)"
    )
    density.add_argument("--density-model", type=json.loads, help="MAF hyperparameters (JSON)")
    density.add_argument(
        "--reuse-reference", type=Path, help="a JSON of an earlier run: take its reference"
    )
    density.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    density.add_argument("--tf32", action="store_true", help="TF32 matrix products (CUDA)")
    steps = p.add_argument_group("sampler steps (sampler_steps.py)")
    steps.add_argument("--results", type=Path, default=REPO / "results")
    steps.add_argument("--steps", type=int, nargs="+", default=[2, 5, 10, 20, 50, 100])
    steps.add_argument("--steps-events", type=int, default=50_000)
    branch = p.add_argument_group("the CATHODE branch through Snakemake")
    branch.add_argument("--cathode-config", type=Path, default=REPO / "config" / "lhco.yaml")
    branch.add_argument("--cores", default="all")
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
    if "density" in args.stages:
        if args.density_data is None:
            raise SystemExit("--stages density needs --density-data (see density_speed.py)")
        result = density_speed.run(
            args.density_data,
            args.device,
            args.density_train_events,
            args.density_val_events,
            args.reference_epochs,
            args.fast,
            args.density_model,
            args.sample_events,
            args.sample_batch,
            args.repeats,
            amp=args.amp,
            tf32=args.tf32,
            reuse=(
                json.loads(args.reuse_reference.read_text())["density"]
                if args.reuse_reference
                else None
            ),
        )
        print(density_speed.markdown(result) + "\n")
        results["density"] = result
    if "steps" in args.stages:
        result = sampler_steps.run(args.results, args.steps, args.steps_events, args.device)
        print(sampler_steps.markdown(result) + "\n")
        results["steps"] = result
    if "cathode" in args.stages:
        with tempfile.TemporaryDirectory() as tmp:
            result = bench_cathode_branch(args.cathode_config, Path(tmp), args.cores)
        print(
            f"CATHODE branch ({args.cathode_config}): {result['wall_seconds']:.0f} s wall; "
            + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(result["job_seconds_by_kind"].items()))
        )
        results["cathode"] = result
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
