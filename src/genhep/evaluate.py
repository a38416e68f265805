"""The evaluation stage: every family scored with the same metrics on the same events.

Truth is the held-out test split, in physical units (the inverse of the preprocessing).
Its *reference* half (``genhep.sample.reference_and_pool``) is what every sample is compared
to. The other half, the *pool*, gave the sampler its contexts; compared with the
reference it is the truth-vs-truth row, the value of each metric for a perfect
generator with this many events. A family's first ``len(pool)`` generated events use
each pool context once, so they are compared on exactly the same footing.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep import metrics
from genhep.errors import GenhepError
from genhep.io.atomic import write_text_atomic
from genhep.io.hdf5 import decode_attr
from genhep.preprocess import load_split
from genhep.sample import column_units, reference_and_pool

log = logging.getLogger("genhep")


def truth_table(split: dict[str, Any]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Column names, and the reference and pool halves of the test split in physical units.

    ``split`` is the test split as ``genhep.preprocess.load_split`` returns it.
    """
    pre = split["preprocessor"]
    columns = list(pre.features.names)
    x = pre.features.inverse(split["features"])
    if pre.context is not None:
        columns += pre.context.names
        x = np.column_stack([x, pre.context.inverse(split["context"])])
    reference, pool = reference_and_pool(len(x))
    return columns, x[reference], x[pool]


def generated_table(samples_path: str | os.PathLike, columns: list[str], n: int) -> np.ndarray:
    """The first ``n`` generated events (those whose contexts match the pool's)."""
    with h5py.File(samples_path, "r") as f:
        missing = [c for c in columns if c not in f]
        if missing:
            raise GenhepError(f"{samples_path}: no column(s) {missing} (has {sorted(f)})")
        available = f[columns[0]].shape[0]
        if available < n:
            raise GenhepError(
                f"{samples_path}: {available} generated events, but the evaluation compares "
                f"{n} (raise sample.events_per_shard or sample.shards)"
            )
        return np.column_stack([f[c][:n] for c in columns])


def sampling_info(samples_path: str | os.PathLike) -> dict[str, Any]:
    with h5py.File(samples_path, "r") as f:
        return {k: decode_attr(v) for k, v in f.attrs.items()}


def heldout_nll(model_path: str | os.PathLike, split: dict[str, Any]) -> dict[str, Any]:
    """Mean negative log-likelihood of the whole test split, nats per event.

    In the preprocessed space the models are trained in (the same for every family, so
    the numbers compare). For the VAE it is the negative ELBO, an upper bound on the NLL.
    The model evaluated is what is sampled: the ensemble of the kept best epochs.
    """
    import torch

    from genhep.models import load_ensemble

    model = load_ensemble(model_path)
    family = model.members[0].family
    if not model.members[0].has_log_prob and family != "vae":
        return {"nll": None, "nll_kind": "none"}
    x = torch.as_tensor(split["features"], dtype=torch.float32)
    c = split.get("context")
    c = None if c is None else torch.as_tensor(c, dtype=torch.float32)
    torch.manual_seed(0)  # the VAE's bound is a Monte Carlo estimate
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), 50_000):
            ctx = None if c is None else c[start : start + 50_000]
            total += float(model.log_prob(x[start : start + 50_000], ctx).double().sum())
    return {"nll": -total / len(x), "nll_kind": "elbo_bound" if family == "vae" else "exact"}


def score(
    truth: np.ndarray, other: np.ndarray, columns: list[str], settings: dict[str, Any]
) -> dict[str, float]:
    """All metrics of ``other`` against ``truth`` with the configured settings."""
    return metrics.compare(
        truth,
        other,
        columns,
        bins=settings.get("bins", 50),
        fpd_kwargs=settings.get("fpd"),
        kpd_kwargs=settings.get("kpd"),
        classifiers=tuple(settings.get("classifiers", ("gbdt", "mlp"))),
        folds=settings.get("folds", 5),
        seed=settings.get("seed", 0),
        max_classifier_events=settings.get("max_classifier_events"),
    )


def evaluate_truth(
    test_path: str | os.PathLike, settings: dict[str, Any], metrics_path: str | os.PathLike
) -> dict[str, Any]:
    columns, reference, pool = truth_table(load_split(test_path))
    n = min(len(reference), len(pool))
    result = {
        "family": "truth",
        "columns": columns,
        "n_reference": len(reference),
        "n_compared": n,
        "metrics": score(reference, pool[:n], columns, settings),
    }
    write_text_atomic(metrics_path, json.dumps(result, indent=2))
    return result


def evaluate_family(
    samples_path: str | os.PathLike,
    model_path: str | os.PathLike,
    training_path: str | os.PathLike,
    test_path: str | os.PathLike,
    features_path: str | os.PathLike,
    settings: dict[str, Any],
    metrics_path: str | os.PathLike,
    histograms_path: str | os.PathLike,
    correlation_path: str | os.PathLike,
) -> dict[str, Any]:
    from genhep.plots import plot_correlations, plot_feature_histograms

    split = load_split(test_path)  # read once: truth tables and the likelihood
    columns, reference, pool = truth_table(split)
    generated = generated_table(samples_path, columns, len(pool))
    sampling = sampling_info(samples_path)
    family = sampling["family"]
    training = json.loads(Path(training_path).read_text())
    result = {
        "family": family,
        "columns": columns,
        "n_reference": len(reference),
        "n_compared": len(generated),
        "metrics": score(reference, generated, columns, settings),
        **heldout_nll(model_path, split),
        "training_seconds": training["training_seconds"],
        "training_device": training["device"],
        "sample_events": sampling["events"],
        "sample_events_per_second": sampling["events_per_second"],
        "sample_device": sampling["device"],
        "sample_dropped_nonfinite": sampling["dropped_nonfinite"],
    }
    units = column_units(features_path, columns)
    plot_feature_histograms(
        reference, generated, columns, units, histograms_path, family, bins=settings["bins"]
    )
    plot_correlations(reference, generated, columns, correlation_path, family)
    write_text_atomic(metrics_path, json.dumps(result, indent=2))
    return result


# --- the leaderboard -------------------------------------------------------------------

# (key, heading): the Markdown table's headline columns; the CSV has every metric.
HEADLINE = [
    ("auc_gbdt", "AUC GBDT"),
    ("auc_mlp", "AUC MLP"),
    ("fpd", "FPD"),
    ("kpd", "KPD"),
    ("w1_mean_norm", "W1/σ mean"),
    ("ks_max", "KS max"),
    ("td_mean", "TD mean"),
    ("corr_max", "Δcorr max"),
    ("nll", "NLL"),
]
ERRORS = {"fpd": "fpd_err", "kpd": "kpd_err"}


def leaderboard_rows(truth: dict[str, Any], families: list[dict[str, Any]]) -> list[dict]:
    """One flat row per family, the truth-vs-truth row first."""
    rows = [{"family": "truth vs truth", **truth["metrics"], "nll": None}]
    for result in families:
        rows.append(
            {
                "family": result["family"],
                **result["metrics"],
                "nll": result["nll"],
                "nll_kind": result["nll_kind"],
                "training_seconds": result["training_seconds"],
                "training_device": result["training_device"],
                "sample_events_per_second": result["sample_events_per_second"],
                "sample_device": result["sample_device"],
            }
        )
    return rows


def _fmt(value: Any, digits: int = 3) -> str:
    """``digits`` significant digits; scientific notation for very small or large values."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, str):
        return value
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def leaderboard_markdown(rows: list[dict], columns: list[str], n_compared: int) -> str:
    head = ["family"] + [h for _, h in HEADLINE] + ["train s", "train device", "sample ev/s"]
    lines = [
        f"# genhep leaderboard ({n_compared:,} generated vs {n_compared:,} held-out events)",
        "",
        "| " + " | ".join(head) + " |",
        "|---" + "|---:" * (len(head) - 1) + "|",
    ]
    for r in rows:
        cells = [r["family"]]
        for key, _ in HEADLINE:
            text = _fmt(r.get(key))
            if key in ERRORS and r.get(key) is not None:
                text += f" ± {_fmt(r[ERRORS[key]], 2)}"
            if key == "nll" and r.get("nll_kind") == "elbo_bound":
                text += " (≥, ELBO)"
            cells.append(text)
        cells += [
            _fmt(r.get("training_seconds")),
            r.get("training_device", "–"),
            _fmt(r.get("sample_events_per_second")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "AUC: classifier two-sample test, out of fold (0.5 = indistinguishable from the "
        "held-out data). FPD/KPD: JetNet's Fréchet and kernel physics distances. W1/σ: "
        "1-Wasserstein distance per feature over the truth's standard deviation, averaged. "
        "KS: Kolmogorov-Smirnov statistic. TD: triangular discrimination of the histograms. "
        "Δcorr: largest difference of the correlation matrices. NLL: test-set negative "
        "log-likelihood, nats per event in the preprocessed space. The truth-vs-truth row "
        "compares two halves of the held-out data: what a perfect generator reaches.",
        "",
        "## 1-Wasserstein distance per feature (physical units)",
        "",
        "| family | " + " | ".join(columns) + " |",
        "|---" + "|---:" * len(columns) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['family']} | " + " | ".join(_fmt(r.get(f"w1_{c}")) for c in columns) + " |"
        )
    return "\n".join(lines) + "\n"


def write_leaderboard(rows: list[dict], csv_path: str | os.PathLike, md_text: str, md_path):
    import csv
    import io

    keys = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else r[k] for k in keys})
    write_text_atomic(csv_path, out.getvalue())
    write_text_atomic(md_path, md_text)
