"""How long Snakemake takes to plan the workflow at cluster scale (`snakemake -n`).

    python benchmarks/dag_planning.py                    # 7 families x 50 shards, CATHODE
                                                         # 10 windows x 5 levels x 5 seeds
    python benchmarks/dag_planning.py --shards 2 --windows 1 --levels 2 --seeds 1

Every job's inputs include the library sources its stage imports (genhep.stage_code),
so this also measures that bookkeeping. Prints a Markdown table; exits 1 when planning
takes longer than --limit seconds (30 s: the budget for a cluster run's start-up).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def scale_config(shards: int, windows: int, levels: int, seeds: int) -> dict:
    return {
        "sample": {"shards": shards},
        "cathode": {
            "windows": [round(3.1 + 0.1 * i, 2) for i in range(windows)],
            "signal_levels": [300 * i for i in range(levels)],
            "seeds": list(range(seeds)),
        },
    }


def plan(config: dict, workdir: Path) -> tuple[int, float]:
    """(planned jobs, seconds) of `snakemake -n` on ``config``."""
    (workdir / "scale.yaml").write_text(yaml.safe_dump(config))
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "scale.yaml"),
        "--cores",
        "2",
        "-n",
        "--quiet",
        "rules",
    ]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stdout[-2000:] + result.stderr[-2000:])
    total = re.search(r"^total\s+(\d+)$", result.stdout + result.stderr, re.M)
    return int(total.group(1)), seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", type=int, default=50)
    p.add_argument("--windows", type=int, default=10)
    p.add_argument("--levels", type=int, default=5)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--limit", type=float, default=30.0)
    args = p.parse_args(argv)
    config = scale_config(args.shards, args.windows, args.levels, args.seeds)
    with tempfile.TemporaryDirectory() as tmp:
        jobs, seconds = plan(config, Path(tmp))
    print("| sampling shards | CATHODE points | planned jobs | `snakemake -n` [s] |")
    print("|---:|---:|---:|---:|")
    points = args.windows * args.levels * args.seeds
    print(f"| {args.shards} | {points} | {jobs} | {seconds:.1f} |")
    if seconds > args.limit:
        print(f"planning took {seconds:.1f} s, over the {args.limit:g} s budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
