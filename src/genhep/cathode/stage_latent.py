"""LaCATHODE stage: a point's events mapped into the SB density model's latent space, and
the latent template (Hallin et al., arXiv 2210.14924; see genhep.cathode.latent).

The lacathode classifier (the cathode_classify stage, on these files) then tells the SR
data from the template in latent space, where the background carries no mjj information.

Every event is mapped, none dropped: the test scores must align row by row with the
fixed test set's labels, and the sideband's with its mjj. An event outside the SB-fitted
min-max range has no image under the logit, so each of its features is clipped just
inside that range first (``clip_into_range``), and the clipped events are counted.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from genhep.bounds import BOUND_NUDGE
from genhep.cathode.datasets import Events
from genhep.cathode.files import read_events, regions_for, write_events
from genhep.cathode.latent import latent_map
from genhep.cathode.regions import Regions, SignalRegionMjj
from genhep.errors import GenhepError
from genhep.hparams import FAMILY_SPECS
from genhep.models import load_ensemble
from genhep.settings.cathode import TemplateSettings
from genhep.stage import Files, Stage
from genhep.training import resolve_device
from genhep.transforms import MinMax, Preprocessor, TransformChain

log = logging.getLogger("genhep")

# The mapped files: (input name, output name), in the order they are logged.
MAPPED = (("sr_data", "latent_sr_data"), ("test", "latent_test"), ("sideband", "latent_sideband"))
# Clipped values land this fraction of the min-max width inside the range: where the
# min-max step puts an event that sits on a physical bound (genhep.bounds), a finite logit.
CLIP_INSIDE = BOUND_NUDGE


def clip_into_range(chain: TransformChain, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (n, d, physical units) with each value outside the leading min-max step's
    fitted range moved ``CLIP_INSIDE`` of the range's width inside it, and the rows that
    moved (bool, n). Values inside, and those on a physical bound (which the min-max step
    nudges itself), are left as they are, so their image is the one training saw. A chain
    without a leading min-max step has no range to clip into: ``x`` is returned as is."""
    x = np.array(x, dtype=np.float64)
    first = chain.steps[0] if chain.steps else None
    if not isinstance(first, MinMax):
        return x, np.zeros(len(x), dtype=bool)
    at_lo, at_hi = first.on_bound(x)
    below = (x <= first.lo) & ~at_lo
    above = (x >= first.hi) & ~at_hi
    inset = CLIP_INSIDE * (first.hi - first.lo)
    x = np.where(below, first.lo + inset, np.where(above, first.hi - inset, x))
    return x, (below | above).any(axis=1)


def model_space(events: Events, pre: Preprocessor, source: Any) -> tuple[np.ndarray, ...]:
    """(features, context, clipped rows) of every event of ``events`` in the model's space,
    features clipped into the SB-fitted range first (``clip_into_range``). An event still
    without an image (non-finite values, or outside the physical bounds with
    cathode.density.transforms not starting with minmax) is an error naming ``source``."""
    x, clipped = clip_into_range(pre.features, events.x)
    features = pre.features.forward(x)
    context = pre.context.forward(events.mjj[:, None])
    bad = ~(np.isfinite(features).all(axis=1) & np.isfinite(context).all(axis=1))
    if bad.any():
        raise GenhepError(
            f"{source}: {int(bad.sum())} of {len(events)} events have no image under the SB "
            "preprocessing even clipped into its range (non-finite features or mjj, or values"
            " outside the physical bounds where cathode.density.transforms does not start"
            " with minmax); LaCATHODE maps every event"
        )
    return features, context, clipped


def latent_names(n: int) -> tuple[str, ...]:
    return tuple(f"z{i}" for i in range(n))


def latent_events(model: Any, pre: Preprocessor, events: Events, source: Any) -> tuple[Events, int]:
    """``events`` with their features replaced by their latent image z = f(x; mjj) under
    ``model`` (columns z0, z1, ...; mjj, labels and row order kept), and how many events
    were clipped into the SB-fitted range to get one."""
    features, context, clipped = model_space(events, pre, source)
    z = latent_map(model, features, context)
    names = latent_names(z.shape[1])
    return Events(z, events.mjj, events.label, names), int(clipped.sum())


def latent_template(
    sr_data: Events,
    regions: Regions,
    n_features: int,
    oversampling: float,
    bandwidth: float | str,
    seed: int,
) -> Events:
    """The template in latent space: ``round(oversampling * len(sr_data))`` draws of
    N(0, I), which under the model is exactly the template's latent image (the template
    is the model's map of such draws), with mjj from the SR data's KDE as
    ``interpolation.sample_template`` draws it (the same stream: the same mjj values)."""
    n = int(round(oversampling * len(sr_data)))
    mjj = SignalRegionMjj(sr_data.mjj, regions, bandwidth).sample(
        n, np.random.default_rng([seed, 4])
    )
    z = np.random.default_rng([seed, 5]).standard_normal((n, n_features))
    return Events(z, mjj, np.zeros(n, np.int64), latent_names(n_features))


def mapped_model(path: Any, device: Any) -> Any:
    """The SB model at ``path`` (loaded ensemble), refused with a GenhepError naming its
    family if that family has no latent map."""
    model = load_ensemble(path, device)
    family = model.members[0].family
    if not FAMILY_SPECS[family].has_latent_map:
        having = [f for f, spec in FAMILY_SPECS.items() if spec.has_latent_map]
        raise GenhepError(
            f"{path}: family {family!r} (config key cathode.families) has no latent map,"
            f" which lacathode classifies in (families with one: {', '.join(having)});"
            " the workflow maps only those"
        )
    return model


def run(s: TemplateSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """Map ``inputs.sr_data``, ``inputs.test`` and ``inputs.sideband`` with the SB model
    ``inputs.model`` (in the space of ``inputs.transform``) into ``outputs.latent_sr_data``,
    ``outputs.latent_test`` and ``outputs.latent_sideband``, and write the latent template
    (``latent_template``) to ``outputs.latent_template``. Returns the clipped counts."""
    pre = Preprocessor.load(inputs.transform)
    model = mapped_model(inputs.model, resolve_device(s.device))
    point = {"window": s.window, "seed": s.seed}
    info: dict[str, Any] = {}
    events = {name: read_events(inputs[name]) for name, _ in MAPPED}
    for name, output in MAPPED:
        latent, clipped = latent_events(model, pre, events[name], inputs[name])
        write_events(outputs[output], latent, **point, clipped_into_range=clipped)
        info[f"{name}_clipped"] = clipped
        log.info(
            "%s: %d events mapped, %d clipped into the SB model's range",
            name,
            len(latent),
            clipped,
        )
    sr_data = events["sr_data"]
    oversampling = s.interpolation.oversampling
    regions = regions_for(s.window, s)
    n_features = model.members[0].n_features
    template = latent_template(
        sr_data, regions, n_features, oversampling, s.interpolation.bandwidth, s.seed
    )
    write_events(outputs.latent_template, template, **point, oversampling=oversampling)
    log.info(
        "latent template: %d N(0, I) events (%.3g x %d SR data events)",
        len(template),
        oversampling,
        len(sr_data),
    )
    return info


STAGE = Stage(
    "cathode_latent",
    run,
    TemplateSettings,
    inputs=("model", "transform", "sr_data", "test", "sideband"),
    outputs=("latent_sr_data", "latent_template", "latent_test", "latent_sideband"),
    description="LaCATHODE: the point's events in the SB density model's latent space, and "
    "N(0, I) draws as the latent template.",
    gpu=True,
)
