"""Split the feature table into train/val/test and fit the invertible transforms on train."""

from pathlib import Path

from genhep.cli import json_arg, log, parser, run
from genhep.preprocess import preprocess


def main(args):
    cfg = args.params
    summary = preprocess(
        args.input,
        {"train": args.train, "val": args.val, "test": args.test},
        args.transform,
        feature_names=cfg.get("features"),
        context_name=cfg.get("context"),
        fractions=cfg["split"],
        seed=cfg["seed"],
        steps=cfg["transforms"],
        context_steps=cfg["context_transforms"],
        margin=cfg["minmax_margin"],
        folds=args.folds,
        bounds=cfg.get("bounds"),
    )
    for split, counts in summary.items():
        log.info(
            "%s: %d events (%d outside the training range, dropped, %d of them outside the "
            "physical bounds; %d moved off a physical bound)",
            split,
            counts["events"],
            counts["dropped_out_of_range"],
            counts["dropped_unphysical"],
            counts["nudged_off_bound"],
        )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--params", type=json_arg, required=True, help="the config's preprocess section")
    for split in ("train", "val", "test"):
        p.add_argument(f"--{split}", type=Path, required=True)
    p.add_argument("--transform", type=Path, required=True)
    p.add_argument(
        "--folds",
        type=int,
        default=None,
        help="evaluate.folds (0: no classifier test): the test split must hold enough events "
        "for the evaluation's classifier k-fold; checked here, before any training",
    )
    run("preprocess", main, p.parse_args())
