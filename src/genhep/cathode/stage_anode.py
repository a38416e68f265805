"""CATHODE stage: ANODE's anomaly score, the density ratio of an SR and the SB model."""

from __future__ import annotations

from genhep.cathode.files import read_events, write_scores
from genhep.cathode.interpolation import anode_scores
from genhep.models import load_ensemble
from genhep.settings.cathode import AnodeSettings
from genhep.stage import Files, Stage
from genhep.training import resolve_device
from genhep.transforms import Preprocessor


def run(s: AnodeSettings, inputs: Files, outputs: Files) -> None:
    """Score the test events (``inputs.test``) by log p_SR − log p_SB of the two models
    (``inputs.sr_model``, ``inputs.sb_model``) in the SB preprocessing's space
    (``inputs.transform``); one row of scores into ``outputs.scores``."""
    test = read_events(inputs.test)
    pre = Preprocessor.load(inputs.transform)
    device = resolve_device(s.device)
    sr_model = load_ensemble(inputs.sr_model, device)
    sb_model = load_ensemble(inputs.sb_model, device)
    scores = anode_scores(sb_model, sr_model, pre, test, device)
    write_scores(outputs.scores, scores, {"method": "anode", "runs": 1})


STAGE = Stage(
    "cathode_anode",
    run,
    AnodeSettings,
    inputs=("sb_model", "sr_model", "transform", "test"),
    outputs=("scores",),
    description="ANODE: the density ratio of an SR model and the SB model, as an anomaly score.",
    gpu=True,
)
