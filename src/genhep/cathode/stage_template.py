"""CATHODE stage: the SR background template, sampled from the SB density model."""

from __future__ import annotations

import logging

from genhep.cathode.files import read_events, regions_for, write_events
from genhep.cathode.interpolation import sample_template
from genhep.models import load_ensemble
from genhep.settings.cathode import TemplateSettings
from genhep.stage import Files, Stage
from genhep.training import resolve_device
from genhep.transforms import Preprocessor

log = logging.getLogger("genhep")


def run(s: TemplateSettings, inputs: Files, outputs: Files) -> None:
    """Sample ``s.interpolation.oversampling`` template events per SR data event
    (``inputs.sr_data``) from the SB model (``inputs.model``) in the space of the point's
    preprocessing (``inputs.transform``), into ``outputs.template`` (see
    ``genhep.cathode.interpolation.sample_template``)."""
    sr = read_events(inputs.sr_data)
    pre = Preprocessor.load(inputs.transform)
    device = resolve_device(s.device)
    model = load_ensemble(inputs.model, device)
    oversampling = s.interpolation.oversampling
    regions = regions_for(s.window, s)
    template = sample_template(
        model, pre, sr, regions, oversampling, s.interpolation.bandwidth, s.seed, device
    )
    write_events(
        outputs.template, template, window=s.window, seed=s.seed, oversampling=oversampling
    )
    log.info("template: %d events (%.3g x %d SR data events)", len(template), oversampling, len(sr))


STAGE = Stage(
    "cathode_template",
    run,
    TemplateSettings,
    inputs=("model", "transform", "sr_data"),
    outputs=("template",),
    description="CATHODE: sample the SB density model into the SR: the background template.",
    gpu=True,
)
