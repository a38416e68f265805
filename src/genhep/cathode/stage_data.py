"""CATHODE stage: the data sets of one point (background + injected signal), cut into
the SR, the sidebands and the density models' splits."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from genhep.cathode.datasets import Events, injected_data, load_events, partition, short_sidebands
from genhep.cathode.files import regions_for, write_events
from genhep.cathode.interpolation import (
    ModelInputs,
    fit_preprocessor,
    holdout_split,
    model_inputs,
)
from genhep.contracts import write_split_file
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path, write_text_atomic
from genhep.settings.base import as_config
from genhep.settings.cathode import PointDataSettings
from genhep.stage import Files, Stage
from genhep.transforms import Preprocessor

log = logging.getLogger("genhep")


def write_model_inputs(
    path: str | os.PathLike, inputs: ModelInputs, pre: Preprocessor, role: str
) -> dict[str, int]:
    """A density model's training or validation split (``role``: sb or sr), as the
    training stage reads it; returns its counts."""
    with atomic_path(path) as tmp:
        attrs = {"split": role, **inputs.counts}
        write_split_file(
            tmp, pre, inputs.features, inputs.context, inputs.labels, inputs.rows, attrs
        )
    return inputs.counts


def sideband_holdout(data: Events, outside_short: np.ndarray) -> Events:
    """The data's events in the sidebands outside CWoLa's short sidebands
    (``outside_short``): no method's classifier trains on them (CATHODE, the idealized
    and the supervised ones train on SR events, CWoLa on the short sidebands). A
    classifier's score on their background shows how a cut on it reshapes the
    background's mjj spectrum (``genhep.cathode.sculpting``: background only, by their
    labels), and on all of them, signal included as in real data, the bump hunt fits
    the spectrum outside the SR (``genhep.cathode.bumphunt``)."""
    return data.where(outside_short)


def run(s: PointDataSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The measured events of one point, cut into what each method trains on: the SR data
    (``outputs.sr_data``), CWoLa's short sidebands (``sb_short``), the SB and SR density
    models' splits (``sb_train``, ``sb_val``, ``sr_train``, ``sr_val``) in the space of
    the preprocessing fitted on the SB training events (``transform``), and the point's
    counts (``counts``); and the sideband events no classifier trains on, on which the
    classifiers' sculpting is measured and the bump hunt fits (``sb_holdout``)."""
    window, seed, level = s.window, s.seed, s.signal
    events = load_events(inputs.events, s.features)
    split = as_config(s.background_split)
    part = partition(events.label, split, s.signal_test_fraction, seed)
    regions = regions_for(window, s)
    data = injected_data(events, part, level)
    sr, sb = data.where(regions.signal_region(data.mjj)), data.where(regions.sidebands(data.mjj))
    in_short = short_sidebands(data.mjj, regions, s.cwola_sideband_width)
    short = data.where(in_short)
    holdout = sideband_holdout(data, regions.sidebands(data.mjj) & ~in_short)
    for name, subset in (("sr", sr), ("sb", sb), ("short sidebands", short)):
        if len(subset) < 10:
            raise GenhepError(
                f"window {window}: the {name} hold(s) {len(subset)} data events, too few to "
                "train on (check cathode.windows, cathode.sr_width and cathode.mjj_range)"
            )
    val_fraction = s.density.val_fraction
    sb_train_rows, sb_val_rows = holdout_split(len(sb), val_fraction, seed)
    pre = fit_preprocessor(sb.take(sb_train_rows), s.density.transforms)
    write_text_atomic(outputs.transform, pre.to_json())
    counts = {
        "window": window,
        "sr": [regions.sr_low, regions.sr_high],
        "seed": seed,
        "signal_injected": level,
        "signal_sr": int(sr.label.sum()),
        "background_sr": int((sr.label == 0).sum()),
        "signal_sb": int(sb.label.sum()),
        "background_sb": int((sb.label == 0).sum()),
        "sb_holdout": len(holdout),
        "sb_holdout_background": int((holdout.label == 0).sum()),
        # mjj of the short sidebands and the SR between them: no sb_holdout event there
        "sb_holdout_gap": [
            regions.sr_low - s.cwola_sideband_width,
            regions.sr_high + s.cwola_sideband_width,
        ],
    }
    counts["s_over_b"] = counts["signal_sr"] / max(counts["background_sr"], 1)
    counts["s_over_sqrt_b"] = counts["signal_sr"] / np.sqrt(max(counts["background_sr"], 1))
    sr_train_rows, sr_val_rows = holdout_split(len(sr), val_fraction, seed)
    for name, region, rows in (
        ("sb_train", sb, sb_train_rows),
        ("sb_val", sb, sb_val_rows),
        ("sr_train", sr, sr_train_rows),
        ("sr_val", sr, sr_val_rows),
    ):
        role = name.split("_")[0]
        counts[name] = write_model_inputs(
            outputs[name], model_inputs(region.take(rows), pre), pre, role
        )
    write_events(outputs.sr_data, sr, window=window, seed=seed, signal_injected=level)
    write_events(outputs.sb_short, short, window=window, seed=seed, signal_injected=level)
    write_events(outputs.sb_holdout, holdout, window=window, seed=seed, signal_injected=level)
    write_text_atomic(outputs.counts, json.dumps(counts, indent=2))
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


STAGE = Stage(
    "cathode_data",
    run,
    PointDataSettings,
    inputs=("events",),
    outputs=(
        "sr_data",
        "sb_short",
        "sb_holdout",
        "sb_train",
        "sb_val",
        "sr_train",
        "sr_val",
        "transform",
        "counts",
    ),
    description="CATHODE: one point's data (background + injected signal) cut into SR, SB "
    "and their splits.",
)
