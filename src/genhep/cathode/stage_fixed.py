"""CATHODE stage: the SR sets of a (window, seed) that no injection level changes."""

from __future__ import annotations

import logging

from genhep.cathode.datasets import fixed_sets, load_events, partition
from genhep.cathode.files import regions_for, write_events
from genhep.settings.base import as_config
from genhep.settings.cathode import FixedSetsSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")


def run(s: FixedSetsSettings, inputs: Files, outputs: Files) -> None:
    """Partition ``inputs.events`` (seeded) and write the SR's labelled test set
    (``outputs.test``), its true background (``reference``, the idealized detector's)
    and its signal pool (``signal``, the supervised baseline's)."""
    events = load_events(inputs.events, s.features)
    split = as_config(s.background_split)
    part = partition(events.label, split, s.signal_test_fraction, s.seed)
    for name, subset in fixed_sets(events, part, regions_for(s.window, s)).items():
        write_events(outputs[name], subset, window=s.window, seed=s.seed)
        log.info("%s: %d events (%d signal)", name, len(subset), int(subset.label.sum()))


STAGE = Stage(
    "cathode_fixed",
    run,
    FixedSetsSettings,
    inputs=("events",),
    outputs=("test", "reference", "signal"),
    description="CATHODE: the SR sets no injection level changes "
    "(labelled test, true background, signal).",
)
