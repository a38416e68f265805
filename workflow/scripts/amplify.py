"""Amplification study for one family: train on 100 camel-back points per seed, measure
how many true points its generated sample is worth (Butter et al., arXiv 2008.06545)."""

import json
from pathlib import Path

import torch

from genhep.amplification.study import resolve_study, run_family
from genhep.cli import json_arg, log, parser, run
from genhep.io.atomic import write_text_atomic


def main(args):
    torch.set_num_threads(args.threads)
    p = resolve_study(args.family, args.params)  # a bad key fails here, before any work
    result = run_family(
        args.family,
        seeds=p["seeds"],
        n_train=p["n_train"],
        n_generated=p["n_generated"],
        quantiles=p["quantiles"],
        train_settings=p["train"],
        hparams=p["model"],
        standardize=p["standardize"],
        augment=p["augment"],
    )
    write_text_atomic(args.output, json.dumps(result, indent=1) + "\n")
    s = result["summary"]
    log.info(
        "%s: amplification %.2f [%.2f, %.2f] over %d seeds (2-Gaussian fit %.2f, training "
        "sample %.2f), %.0f s",
        args.family,
        s["model"]["median"],
        s["model"]["q16"],
        s["model"]["q84"],
        len(result["seeds"]),
        s["fit"]["median"],
        s["train"]["median"],
        result["seconds"],
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--family", required=True)
    p.add_argument(
        "--params",
        type=json_arg,
        required=True,
        help='{"seeds", "first_seed", "n_train", "n_generated", "quantiles", "train": {...},'
        ' "model": {...}}'
        " (missing keys: the family's defaults in genhep.amplification.params.STUDY_DEFAULTS)",
    )
    p.add_argument("--output", type=Path, required=True, help="the family's results (JSON)")
    p.add_argument("--threads", type=int, default=1)
    run("amplify", main, p.parse_args())
