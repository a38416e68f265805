"""CATHODE stages: the fixed sets of a (window, seed) and the data sets of one point."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genhep.cathode import layout
from genhep.cathode.datasets import (
    fixed_sets,
    injected_data,
    load_events,
    partition,
    short_sidebands,
)
from genhep.cathode.files import regions_for, write_events
from genhep.cathode.interpolation import fit_preprocessor, holdout_split, write_model_inputs
from genhep.errors import GenhepError
from genhep.io.atomic import write_text_atomic

log = logging.getLogger("genhep")


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
    """The measured events of one point, cut into what each method trains on: the files of
    ``layout.DATA_FILES``, written into ``outdir``."""
    out = {name: Path(outdir) / file for name, file in layout.DATA_FILES.items()}
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
    write_text_atomic(out["transform"], pre.to_json())
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
    counts["sb_train"] = write_model_inputs(sb.take(sb_train_rows), pre, out["sb_train"], "sb")
    counts["sb_val"] = write_model_inputs(sb.take(sb_val_rows), pre, out["sb_val"], "sb")
    sr_train_rows, sr_val_rows = holdout_split(len(sr), p["density_val_fraction"], seed)
    counts["sr_train"] = write_model_inputs(sr.take(sr_train_rows), pre, out["sr_train"], "sr")
    counts["sr_val"] = write_model_inputs(sr.take(sr_val_rows), pre, out["sr_val"], "sr")
    write_events(out["sr_data"], sr, window=window, seed=seed, signal_injected=level)
    write_events(out["sb_short"], short, window=window, seed=seed, signal_injected=level)
    write_text_atomic(out["counts"], json.dumps(counts, indent=2))
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
