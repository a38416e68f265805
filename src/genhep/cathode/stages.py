"""The CATHODE branch's stages, one function per workflow rule (the scripts are thin).

A search point is (signal-region window, seed, injected signal level); the density
estimator's family is one more coordinate of the CATHODE and ANODE results. Files:

    fixed/   test.h5, reference.h5, signal.h5           per (window, seed)
    data/    sr_data.h5, sb_short.h5, sb_{train,val}.h5,  per point
             sr_{train,val}.h5, transform.json, counts.json
    density/{region}/{family}/model.pt                  SB (CATHODE) or SR (ANODE) model
    template/{family}.h5                                the SR background template
    scores/{method}.h5                                  test scores, one row per run
    evaluation.json, curves.h5, sic.png, rejection.png  the point's figures of merit
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep.cathode.classifier import ClassifierSettings, train_anomaly_classifier
from genhep.cathode.datasets import (
    Events,
    fixed_sets,
    injected_data,
    load_events,
    partition,
    short_sidebands,
)
from genhep.cathode.interpolation import (
    anode_scores,
    fit_preprocessor,
    holdout_split,
    sample_template,
    write_model_inputs,
)
from genhep.cathode.regions import Regions
from genhep.cathode.sic import run_summary
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.io.hdf5 import read_table, write_table
from genhep.preprocess import Preprocessor

log = logging.getLogger("genhep")

TEV = {"mjj": "TeV", "mj_min": "TeV", "delta_mj": "TeV"}


def regions_for(window: float, p: Mapping[str, Any]) -> Regions:
    """The SR of width ``sr_width`` centred on ``window``, sidebands within ``mjj_range``."""
    half = p["sr_width"] / 2
    low, high = p["mjj_range"]
    return Regions(window - half, window + half, low, high)


def write_events(path: str | os.PathLike, events: Events, **attrs: Any) -> None:
    write_table(path, events.columns(), TEV, {"events": len(events), **attrs})


def read_events(path: str | os.PathLike) -> Events:
    table, attrs = read_table(path)
    names = [c for c in attrs["columns"] if c not in ("mjj", "label")]
    x = np.column_stack([table[c] for c in names]) if names else np.empty((len(table["mjj"]), 0))
    return Events(x, table["mjj"], table["label"], tuple(names))


def _load_partitioned(events_path, p, seed):
    events = load_events(events_path, p["features"])
    part = partition(events.label, p["background_split"], p["signal_test_fraction"], seed)
    return events, part


def make_fixed_sets(events_path, p, window: float, seed: int, outputs: Mapping[str, Path]):
    """test.h5 (labelled), reference.h5 (true SR background), signal.h5 (SR signal pool)."""
    events, part = _load_partitioned(events_path, p, seed)
    sets = fixed_sets(events, part, regions_for(window, p))
    for name, s in sets.items():
        write_events(outputs[name], s, window=window, seed=seed)
        log.info("%s: %d events (%d signal)", name, len(s), int(s.label.sum()))


def make_point_data(
    events_path, p, window: float, seed: int, level: int, outdir: str | os.PathLike
) -> dict[str, Any]:
    """The measured events of one point, cut into what each method trains on."""
    outdir = Path(outdir)
    events, part = _load_partitioned(events_path, p, seed)
    regions = regions_for(window, p)
    data = injected_data(events, part, level)
    sr, sb = data.where(regions.signal_region(data.mjj)), data.where(regions.sidebands(data.mjj))
    short = data.where(short_sidebands(data.mjj, regions, p["cwola_sideband_width"]))
    for name, s in (("sr", sr), ("sb", sb), ("short sidebands", short)):
        if len(s) < 10:
            raise GenhepError(
                f"window {window}: the {name} hold(s) {len(s)} data events, too few to train on "
                "(check cathode.windows, cathode.sr_width and cathode.mjj_range)"
            )
    sb_train_rows, sb_val_rows = holdout_split(len(sb), p["density_val_fraction"], seed)
    pre = fit_preprocessor(sb.take(sb_train_rows), p["transforms"])
    write_text_atomic(outdir / "transform.json", pre.to_json())
    counts = {
        "window": window,
        "sr": [regions.sr_low, regions.sr_high],
        "seed": seed,
        "signal_injected": level,
        "signal_sr": int(sr.label.sum()),
        "background_sr": int((sr.label == 0).sum()),
        "signal_sb": int(sb.label.sum()),
        "background_sb": int((sb.label == 0).sum()),
    }
    counts["s_over_b"] = counts["signal_sr"] / max(counts["background_sr"], 1)
    counts["s_over_sqrt_b"] = counts["signal_sr"] / np.sqrt(max(counts["background_sr"], 1))
    counts["sb_train"] = write_model_inputs(
        sb.take(sb_train_rows), pre, outdir / "sb_train.h5", "sb"
    )
    counts["sb_val"] = write_model_inputs(sb.take(sb_val_rows), pre, outdir / "sb_val.h5", "sb")
    sr_train_rows, sr_val_rows = holdout_split(len(sr), p["density_val_fraction"], seed)
    counts["sr_train"] = write_model_inputs(
        sr.take(sr_train_rows), pre, outdir / "sr_train.h5", "sr"
    )
    counts["sr_val"] = write_model_inputs(sr.take(sr_val_rows), pre, outdir / "sr_val.h5", "sr")
    write_events(outdir / "sr_data.h5", sr, window=window, seed=seed, signal_injected=level)
    write_events(outdir / "sb_short.h5", short, window=window, seed=seed, signal_injected=level)
    write_text_atomic(outdir / "counts.json", json.dumps(counts, indent=2))
    log.info(
        "SR [%.2f, %.2f): %d background + %d signal (S/B %.2f%%, S/sqrt(B) %.2f); SB %d events",
        regions.sr_low,
        regions.sr_high,
        counts["background_sr"],
        counts["signal_sr"],
        100 * counts["s_over_b"],
        counts["s_over_sqrt_b"],
        len(sb),
    )
    return counts


def make_template(model_path, transform_path, sr_data_path, output, p, window, seed, device):
    """Sample the background template into the SR (see ``sample_template``)."""
    sr = read_events(sr_data_path)
    pre = Preprocessor.load(transform_path)
    template = sample_template(
        model_path,
        pre,
        sr,
        regions_for(window, p),
        p["oversampling"],
        p["bandwidth"],
        seed,
        device,
    )
    write_events(output, template, window=window, seed=seed, oversampling=p["oversampling"])
    log.info(
        "template: %d events (%.3g x %d SR data events)", len(template), p["oversampling"], len(sr)
    )


def write_scores(
    output, scores: np.ndarray, info: Mapping[str, Any], val_auc: np.ndarray | None = None
) -> None:
    """A method's test scores (runs × n_test), as ``evaluate_point`` reads them: dataset
    ``scores`` (and ``val_auc`` for classifiers), the run's facts as attributes."""
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("scores", data=scores.astype(np.float32))
        if val_auc is not None:
            f.create_dataset("val_auc", data=val_auc)
        for k, v in info.items():
            f.attrs[k] = v


def classify(
    method: str,
    label1_path,
    label0_path,
    test_path,
    output,
    settings: Mapping[str, Any],
    seed: int,
    label0_ratio: float | None = None,
) -> dict[str, Any]:
    """Train a method's classifier ensemble and write its test scores (runs × n_test).

    ``label0_ratio`` caps the label-0 set at that multiple of label 1 (the idealized
    detector's true background is as large as CATHODE's template, no larger).
    """
    s = ClassifierSettings.from_config({**settings, "seed": seed})
    x1, x0, test = (read_events(p) for p in (label1_path, label0_path, test_path))
    if label0_ratio is not None and len(x0) > label0_ratio * len(x1):
        x0 = x0.take(np.arange(int(round(label0_ratio * len(x1)))))
    result = train_anomaly_classifier(x1.x, x0.x, test.x, s)
    check = result.null_check()
    info = {
        "method": method,
        "n_label1": len(x1),
        "n_label0": len(x0),
        "runs": s.runs,
        **check,
    }
    write_scores(output, result.scores, info, val_auc=result.val_auc)
    log.info(
        "%s: %d vs %d events, %d runs; validation AUC %.4f (null spread %.4f, pull %+.1f)",
        method,
        len(x1),
        len(x0),
        s.runs,
        check["val_auc"],
        check["null_sigma"],
        check["pull"],
    )
    return info


def write_anode_scores(sb_model, sr_model, transform_path, test_path, output, device):
    test = read_events(test_path)
    scores = anode_scores(sb_model, sr_model, Preprocessor.load(transform_path), test, device)
    write_scores(output, scores, {"method": "anode", "runs": 1})


def evaluate_point(
    score_paths: Mapping[str, str | os.PathLike],
    test_path,
    counts_path,
    outputs: Mapping[str, Path],
    p: Mapping[str, Any],
) -> dict[str, Any]:
    """Every method's SIC and rejection curves (median, 16–84% band over runs), max SIC
    above the FPR floor, AUC and the validation null check, for one point."""
    from genhep.plots import plot_sic_curves

    labels = read_events(test_path).label
    counts = json.loads(Path(counts_path).read_text())
    tpr = np.linspace(0.0, 1.0, p["tpr_points"] + 1)[1:]
    summaries, methods = {}, {}
    for method, path in score_paths.items():
        with h5py.File(path, "r") as f:
            scores = f["scores"][...]
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        s = run_summary(labels, scores, tpr, p["min_background"])
        summaries[method] = s
        methods[method] = {
            "max_sic": s["max_sic"].tolist(),
            "max_sic_ensemble": s["max_sic_ensemble"],
            "auc": s["auc"].tolist(),
            "runs": s["runs"],
            **{
                k: attrs[k]
                for k in ("val_auc", "null_sigma", "pull", "n_label1", "n_label0")
                if k in attrs
            },
        }
    first = next(iter(summaries.values()))
    result = {
        **counts,
        "fpr_floor": first["fpr_floor"],
        "test_signal": first["n_signal"],
        "test_background": first["n_background"],
        "methods": methods,
    }
    with atomic_path(outputs["curves"]) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("tpr", data=tpr)
        for method, s in summaries.items():
            g = f.create_group(method)
            g.create_dataset("sic", data=s["sic"])  # rows: 16%, median, 84% over runs
            g.create_dataset("rejection", data=s["rejection"])
    title = (
        f"SR [{counts['sr'][0]:.2f}, {counts['sr'][1]:.2f}) TeV, {counts['signal_sr']} signal "
        f"in {counts['background_sr']} background (S/B {100 * counts['s_over_b']:.2f}%)"
    )
    for kind in ("sic", "rejection"):
        with atomic_path(outputs[kind]) as tmp:
            plot_sic_curves(tpr, summaries, kind, tmp, title, first["fpr_floor"])
    write_text_atomic(outputs["evaluation"], json.dumps(result, indent=2))
    return result


# --- the summary over points -----------------------------------------------------------------

SUMMARY_COLUMNS = (
    "method",
    "window",
    "seed",
    "signal_injected",
    "signal_sr",
    "background_sr",
    "s_over_b",
    "s_over_sqrt_b",
    "max_sic_median",
    "max_sic_16",
    "max_sic_84",
    "max_sic_ensemble",
    "auc_median",
    "val_auc",
    "null_pull",
    "fpr_floor",
    "runs",
)


def summary_rows(evaluations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in evaluations:
        for method, m in e["methods"].items():
            rows.append(
                {
                    "method": method,
                    "window": e["window"],
                    "seed": e["seed"],
                    "signal_injected": e["signal_injected"],
                    "signal_sr": e["signal_sr"],
                    "background_sr": e["background_sr"],
                    "s_over_b": e["s_over_b"],
                    "s_over_sqrt_b": e["s_over_sqrt_b"],
                    "max_sic_median": m["max_sic"][1],
                    "max_sic_16": m["max_sic"][0],
                    "max_sic_84": m["max_sic"][2],
                    "max_sic_ensemble": m["max_sic_ensemble"],
                    "auc_median": m["auc"][1],
                    "val_auc": m.get("val_auc", float("nan")),
                    "null_pull": m.get("pull", float("nan")),
                    "fpr_floor": e["fpr_floor"],
                    "runs": m["runs"],
                }
            )
    return sorted(rows, key=lambda r: (r["method"], r["window"], r["seed"], r["signal_injected"]))


def summary_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "# CATHODE search: max SIC per method and point",
        "",
        "Max SIC = max over working points of TPR/sqrt(FPR), with FPR above the floor set by "
        "the test statistics; median and 16-84% band over the classifier runs. "
        "Validation AUC: label 1 vs label 0 on each run's held-out half (0.5 when the "
        "template is indistinguishable from the data); pull: its distance from 0.5 in "
        "units of the null spread.",
        "",
        "| method | SR centre [TeV] | seed | injected | S in SR | B in SR | S/B [%] | S/sqrt(B) "
        "| max SIC (median [16%, 84%]) | ensemble | test AUC | val AUC (pull) | FPR floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['window']:.2f} | {r['seed']} | {r['signal_injected']} "
            f"| {r['signal_sr']} | {r['background_sr']} | {100 * r['s_over_b']:.2f} "
            f"| {r['s_over_sqrt_b']:.2f} "
            f"| {r['max_sic_median']:.2f} [{r['max_sic_16']:.2f}, {r['max_sic_84']:.2f}] "
            f"| {r['max_sic_ensemble']:.2f} | {r['auc_median']:.3f} "
            f"| {r['val_auc']:.3f} ({r['null_pull']:+.1f}) | {r['fpr_floor']:.1e} |"
        )
    return "\n".join(lines) + "\n"
