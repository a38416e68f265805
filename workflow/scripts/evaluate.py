"""Score a family's generated events (or the truth against itself) against the test split."""

import warnings
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from genhep.cli import json_arg, log, parser, run
from genhep.evaluate import evaluate_family, evaluate_truth


def main(args):
    torch.set_num_threads(args.threads)
    # sklearn's OpenMP/BLAS pools ignore torch's setting; without a limit they oversubscribe
    # the cores the scheduler gave this job (and run many times slower beside other jobs).
    # Metric caveats (e.g. FPD batch sizes scaled to a small held-out set) go to the log,
    # not to the console as Python warnings.
    with threadpool_limits(args.threads), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # each distinct warning once
        evaluate(args)
    for w in caught:
        log.info("note: %s", w.message)


def evaluate(args):
    if args.truth_only:
        result = evaluate_truth(args.test, args.params, args.metrics)
    else:
        result = evaluate_family(
            args.samples,
            args.model,
            args.training,
            args.test,
            args.features,
            args.params,
            args.metrics,
            args.histograms,
            args.correlation,
        )
    m = result["metrics"]
    log.info(
        "%s vs truth (%d events each): %s",
        result["family"],
        result["n_compared"],
        ", ".join(f"{k} {v:.4g}" for k, v in m.items() if k[:3] not in ("w1_", "ks_", "td_")),
    )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--truth-only", action="store_true", help="the truth-vs-truth row")
    p.add_argument("--samples", type=Path)
    p.add_argument("--model", type=Path)
    p.add_argument("--training", type=Path, help="the family's training.json")
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--features", type=Path, required=True, help="feature table (for units)")
    p.add_argument("--params", type=json_arg, required=True, help="the evaluate config section")
    p.add_argument("--metrics", type=Path, required=True)
    p.add_argument("--histograms", type=Path)
    p.add_argument("--correlation", type=Path)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    if not args.truth_only:
        for name in ("samples", "model", "training", "histograms", "correlation"):
            if getattr(args, name) is None:
                p.error(f"--{name} is required (unless --truth-only)")
    run("evaluate", main, args)
