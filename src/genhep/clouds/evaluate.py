"""The cloud evaluation stage: JetNet's metrics and the plots of one class and family.

The generated jets are compared with the test split's *reference* half (Kansal et al.
2021, arXiv 2106.11535): W1M (relative jet mass), W1P (particle Δη, Δφ, pT_rel), W1EFP,
FPD and KPD on the energy-flow polynomials, each with JetNet's bootstrap error, and a
classifier two-sample test on the clouds themselves (AUC, out of fold). The truth row
runs this same stage with the test split's *pool* half in the generated jets' place:
it is each metric's value for a perfect generator at this sample size.

As many generated jets as reference jets are compared (the first ones: their conditions
are the pool's, each once; genhep.clouds.sample).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from genhep.clouds import Clouds
from genhep.clouds.classifier import classifier_auc
from genhep.clouds.efp import efp_labels, efp_metrics, efps, w1efp_columns
from genhep.clouds.metrics import w1m, w1p
from genhep.clouds.plots import plot_cloud_comparison
from genhep.contracts.clouds import cloud_store_attrs, cloud_store_jets, read_clouds
from genhep.errors import GenhepError
from genhep.io.atomic import write_text_atomic
from genhep.settings.clouds import CloudEvaluateSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")


def jetnet_metrics(
    truth: Clouds, generated: Clouds, settings: CloudEvaluateSettings
) -> tuple[dict[str, Any], tuple]:
    """Every metric of ``generated`` against ``truth``, and the EFPs (for the plots)."""
    boot = {
        "num_eval_samples": settings.num_eval_samples,
        "num_batches": settings.num_batches,
        "seed": settings.seed,
    }
    real, gen = (truth.particles, truth.mask), (generated.particles, generated.mask)
    metrics: dict[str, Any] = {"w1m": w1m(real, gen, **boot), "w1p": w1p(real, gen, **boot)}
    n_efp = settings.efp_jets
    truth_efps = efps(truth.particles[:n_efp], truth.mask[:n_efp])
    gen_efps = efps(generated.particles[:n_efp], generated.mask[:n_efp])
    metrics.update(
        efp_metrics(
            truth_efps,
            gen_efps,
            **boot,
            fpd_kwargs=vars(settings.fpd),
            kpd_kwargs=vars(settings.kpd),
        )
    )
    c = settings.classifier
    metrics["auc"] = classifier_auc(
        real,
        gen,
        folds=c.folds,
        epochs=c.epochs,
        hidden=c.hidden,
        max_jets=c.max_jets,
        seed=c.seed,
    )
    return metrics, (truth_efps, gen_efps)


def run(settings: CloudEvaluateSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """``inputs.generated`` against ``inputs.reference``: ``outputs.metrics`` (JSON) and
    the figures in ``outputs.plots``; the training facts from ``inputs.training``."""
    start = time.perf_counter()
    truth = read_clouds(inputs.reference)
    n = min(len(truth), cloud_store_jets(inputs.generated))
    if n < 2:
        raise GenhepError(f"{inputs.generated}: {n} jets; the evaluation needs 2 or more")
    generated = read_clouds(inputs.generated, 0, n)
    metrics, (truth_efps, gen_efps) = jetnet_metrics(truth, generated, settings)
    Path(outputs.plots).mkdir(parents=True, exist_ok=True)
    columns = w1efp_columns()[:2]
    plot_cloud_comparison(
        truth,
        generated,
        outputs.plots,
        settings.family,
        settings.jet_class,
        efps=(truth_efps, gen_efps),
        efp_columns=tuple(columns),
        efp_names=[efp_labels()[i] for i in columns],
        image_bins=settings.image_bins,
    )
    sampling = cloud_store_attrs(inputs.generated)
    training = json.loads(Path(inputs.training).read_text()) if inputs.training else {}
    record = {
        "family": settings.family,
        "class": settings.jet_class,
        "truth_jets": len(truth),
        "generated_jets": n,
        **metrics,
        "training_seconds": training.get("training_seconds"),
        "train_events_per_second": training.get("train_events_per_second"),
        "sampling_seconds": sampling.get("sampling_seconds"),
        "sampling_jets_per_second": sampling.get("events_per_second"),
        "evaluation_seconds": time.perf_counter() - start,
    }
    write_text_atomic(outputs.metrics, json.dumps(record, indent=2))
    log.info(
        "%s (%s): W1M %.2e, W1P %.2e, W1EFP %.2e, FPD %.2e, KPD %.2e, AUC %.3f",
        settings.family,
        settings.jet_class,
        metrics["w1m"][0],
        metrics["w1p"]["mean"][0],
        metrics["w1efp"]["mean"][0],
        metrics["fpd"][0],
        metrics["kpd"][0],
        metrics["auc"][0],
    )
    return record


STAGE = Stage(
    "evaluate_clouds",
    run,
    CloudEvaluateSettings,
    inputs=("reference", "generated", "training?"),
    outputs=("metrics", "plots"),
    description="JetNet's metrics and the plots of one class's generated jets.",
)
