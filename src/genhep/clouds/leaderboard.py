"""The jets leaderboard: every class and family side by side, in JetNet's columns.

One row per class and generator, after the class's truth row (the test split's pool half
against its reference half: what a perfect generator scores at this sample size). The
values are scaled as JetNet's and EPiC-FM's tables print them: W1M ×10³, W1P ×10³,
W1EFP ×10⁵, FPD ×10⁴, KPD ×10⁴, each ± its bootstrap error; then the classifier AUC, the
ratio of W1M to the truth's, and the time to train and the jets generated per second.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any

from genhep.io.atomic import write_text_atomic
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

# (column, how to read it from a metrics record, scale)
SCALED = (
    ("W1M ×1e3", lambda m: m["w1m"], 1e3),
    ("W1P ×1e3", lambda m: m["w1p"]["mean"], 1e3),
    ("W1EFP ×1e5", lambda m: m["w1efp"]["mean"], 1e5),
    ("FPD ×1e4", lambda m: m["fpd"], 1e4),
    ("KPD ×1e4", lambda m: m["kpd"], 1e4),
)


def _row(record: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"class": record["class"], "family": record["family"]}
    for name, read, scale in SCALED:
        value, error = read(record)
        row[name] = f"{value * scale:.3g} ± {error * scale:.2g}"
    row["AUC"] = f"{record['auc'][0]:.3f} ± {record['auc'][1]:.2g}"
    row["W1M / truth"] = f"{record['w1m'][0] / truth['w1m'][0]:.2f}"
    train = record.get("training_seconds")
    rate = record.get("sampling_jets_per_second")
    row["train s"] = "" if train is None else f"{train:.0f}"
    row["jets/s"] = "" if rate is None else f"{rate:.3g}"
    return row


def rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's rows: per class (in the order first seen), truth first, then by W1M."""
    by_class: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_class.setdefault(record["class"], []).append(record)
    out = []
    for group in by_class.values():
        truth = next(r for r in group if r["family"] == "truth")
        others = sorted((r for r in group if r is not truth), key=lambda r: r["w1m"][0])
        out += [_row(r, truth) for r in [truth, *others]]
    return out


def markdown(table: list[dict[str, Any]]) -> str:
    header = list(table[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[k]) for k in header) + " |" for r in table]
    return "\n".join(lines) + "\n"


def run(settings: None, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The metrics records ``inputs.metrics`` into ``outputs.table`` (Markdown) and
    ``outputs.csv`` (the same rows)."""
    records = [json.loads(p.read_text()) for p in inputs.metrics]
    table = rows(records)
    title = "# Jets as particle clouds: JetNet's metrics (lower is better; AUC 0.5 is ideal)\n\n"
    write_text_atomic(outputs.table, title + markdown(table))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    write_text_atomic(outputs.csv, text.getvalue())
    log.info("jets leaderboard: %d rows", len(table))
    return {"rows": len(table)}


STAGE = Stage(
    "leaderboard_clouds",
    run,
    None,
    inputs=("metrics*",),
    outputs=("table", "csv"),
    description="Every class and cloud generator side by side, in JetNet's columns.",
)
