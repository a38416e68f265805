"""CATHODE stages that use the trained density models: the SR background template and
ANODE's density-ratio scores."""

from __future__ import annotations

import logging

from genhep.cathode.files import read_events, regions_for, write_events, write_scores
from genhep.cathode.interpolation import anode_scores, sample_template
from genhep.transforms import Preprocessor

log = logging.getLogger("genhep")


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


def write_anode_scores(sb_model, sr_model, transform_path, test_path, output, device):
    test = read_events(test_path)
    scores = anode_scores(sb_model, sr_model, Preprocessor.load(transform_path), test, device)
    write_scores(output, scores, {"method": "anode", "runs": 1})
