"""Every generator family as CATHODE's background model: the per-family table of a finished
CATHODE run with several families and seeds (``cathode.families``, ``cathode.seeds``).

    python benchmarks/cathode_families.py --results results/cathode --signal 800

Per family (and for the idealized and supervised rows beside them), over the seeds:
- max SIC at the injected level ``--signal``: the median over seeds of each seed's median
  over classifier runs, and the smallest 16% and largest 84% of the seeds' bands;
- the template check at zero injected signal: the check AUC of SR data vs template on
  the slice held out from every classifier run, and its null pull, mean and spread over
  seeds, and how many seeds fail it (pull > 3: the summary's flag);
- the bump hunt's local significance at the tightest fitted cut, median over seeds;
- the SB density model's training time (training.json, mean over seeds and levels).
Printed as Markdown (and JSON with --json).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

NULL_PULL_LIMIT = 3.0  # genhep.cathode.stage_summary.NULL_PULL_LIMIT


def number(value: str) -> float | None:
    return None if value in ("", None) else float(value)


def family_rows(rows: list[dict], method: str, signal: int) -> dict:
    """One table row of ``method`` (cathode_<family>, idealized, ...)."""
    at = [r for r in rows if r["method"] == method and int(r["signal_injected"]) == signal]
    null = [r for r in rows if r["method"] == method and int(r["signal_injected"]) == 0]
    sic = [number(r["max_sic_median"]) for r in at if number(r["max_sic_median"]) is not None]
    pulls = [number(r["null_pull"]) for r in null if number(r["null_pull"]) is not None]
    aucs = [number(r["check_auc"]) for r in null if number(r["check_auc"]) is not None]
    z = [number(r.get("bump_z")) for r in at if number(r.get("bump_z")) is not None]
    sic0 = [number(r["max_sic_median"]) for r in null if number(r["max_sic_median"]) is not None]
    model = method.startswith(("cathode_", "lacathode_"))  # a background template
    return {
        "method": method,
        "seeds": len(at),
        "max_sic": statistics.median(sic) if sic else None,
        "max_sic_low": min((number(r["max_sic_16"]) for r in at), default=None),
        "max_sic_high": max((number(r["max_sic_84"]) for r in at), default=None),
        "check_auc": statistics.mean(aucs) if aucs else None,
        "null_pull": statistics.mean(pulls) if pulls else None,
        "null_pull_spread": statistics.pstdev(pulls) if len(pulls) > 1 else None,
        # only a background model's template has a null check to fail
        "failed_seeds": sum(p > NULL_PULL_LIMIT for p in pulls) if model else None,
        "max_sic_zero_signal": statistics.median(sic0) if sic0 else None,
        "bump_z": statistics.median(z) if z else None,
    }


def training_seconds(results: Path, family: str) -> float | None:
    """Mean training time of the family's SB density models over every point."""
    seconds = [
        json.loads(p.read_text())["training_seconds"]
        for p in results.glob(f"sr*/seed*/s*/density/sb/{family}/training.json")
    ]
    return statistics.mean(seconds) if seconds else None


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results/cathode"))
    parser.add_argument("--signal", type=int, required=True, help="injected level for SIC")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with open(args.results / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    methods = sorted({r["method"] for r in rows})
    families = [m for m in methods if m.startswith(("cathode_", "lacathode_"))]
    table = []
    for method in families + [m for m in ("idealized", "supervised", "cwola") if m in methods]:
        row = family_rows(rows, method, args.signal)
        family = method.split("_", 1)[1] if "_" in method else None
        row["training_seconds"] = training_seconds(args.results, family) if family else None
        table.append(row)
    print(f"every family as the background model: {args.results}, SIC at {args.signal} injected\n")
    print(
        "| method | seeds | max SIC (median over seeds [lowest 16%, highest 84%]) "
        "| max SIC at zero signal | check AUC at zero signal | null pull (spread) "
        "| seeds failing | bump-hunt Z | density training s |"
    )
    print("|---|---:|---|---:|---:|---|---:|---:|---:|")
    for r in table:
        failed = "" if r["failed_seeds"] is None else str(r["failed_seeds"])
        flag = " **fails**" if r["failed_seeds"] else ""
        print(
            f"| {r['method']} | {r['seeds']} | {fmt(r['max_sic'], '.2f')} "
            f"[{fmt(r['max_sic_low'], '.2f')}, {fmt(r['max_sic_high'], '.2f')}] "
            f"| {fmt(r['max_sic_zero_signal'], '.2f')} "
            f"| {fmt(r['check_auc'], '.3f')} | {fmt(r['null_pull'], '+.1f')} "
            f"({fmt(r['null_pull_spread'], '.1f')}) | {failed}{flag} "
            f"| {fmt(r['bump_z'], '+.1f')} | {fmt(r['training_seconds'], '.0f')} |"
        )
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))
    return table


if __name__ == "__main__":
    main()
