"""The preprocessing stage: a seeded train/val/test split, transforms fitted on train.

The feature table is split by one seeded permutation (:func:`split_indices`); the
transforms (genhep.transforms: min-max, logit, standardize by default, held inside each
column's physical range) are fitted on the training split only, and every split is
written in the preprocessed space (genhep.contracts.write_split_file), with the
transform saved beside them as JSON. Events outside the training range or their physical
range are dropped and counted per split; those exactly on a physical bound are nudged
inside (:func:`report_bounds` names them by column).

What a stage reads is validated where it is read, so every stage gets it: the feature
table (genhep.io.hdf5.read_table: readable, finite), a split file
(genhep.contracts.load_split: readable, complete, finite, not empty) and the transforms
(genhep.transforms.Preprocessor.load: finite parameters). A damaged file is named with
how to regenerate it. Preprocessing itself refuses splits too small for training,
validation and the evaluation's classifier test (:func:`check_split_sizes`) before it
writes anything. The stage's settings are ``genhep.settings.data.PreprocessSettings``
(the config's ``preprocess`` section, and the evaluation's classifier folds).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genhep.bounds import BOUND_NUDGE, check_bounds
from genhep.contracts import write_split_file
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path
from genhep.io.hdf5 import damaged, read_table
from genhep.settings.base import as_config
from genhep.settings.data import PreprocessSettings
from genhep.stage import Files, Stage
from genhep.transforms import Preprocessor, TransformChain

log = logging.getLogger("genhep")

SPLITS = ("train", "val", "test")
# The rule that writes what this module reads: named in "rerun with -R <rule>".
FEATURES_RULE = "ingest"
# The smallest training and validation splits worth fitting a generative model on.
MIN_TRAIN_EVENTS = 10
MIN_VAL_EVENTS = 10
# The evaluation's classifiers (genhep.metrics) stop early on a stratified 10 % of their
# training folds, which needs at least two events (one per class): ceil(0.1 * n) >= 2.
_CLASSIFIER_MIN_TRAIN = 11


def split_sizes(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """The events of each split when ``n`` are split by ``fractions``."""
    total = sum(fractions[s] for s in SPLITS)
    if not np.isclose(total, 1.0):
        raise GenhepError(
            f"config key preprocess.split: fractions must sum to 1 (they sum to {total:g})"
        )
    n_train = round(fractions["train"] * n)
    n_val = round(fractions["val"] * n)
    return {"train": n_train, "val": n_val, "test": max(n - n_train - n_val, 0)}


def classifier_events_needed(folds: int) -> int:
    """The fewest events per class the evaluation's classifier two-sample test
    (genhep.metrics.classifier_auc, ``folds``-fold) runs with.

    Stratified k-fold needs ``folds`` events per class, and deals the 2n events of both
    classes out so that no fold holds more than ceil(2n / folds). Each classifier is
    trained on the other folds, at least 2n − ceil(2n / folds) events, of which it holds
    out a stratified 10 % for early stopping: that needs two events (one per class), so the
    training folds need 11. (Checked against sklearn for folds 2, 3, 5 and 10:
    tests/test_bad_inputs.py.)
    """
    n = max(int(folds), 2)
    while 2 * n - -(-2 * n // folds) < _CLASSIFIER_MIN_TRAIN:
        n += 1
    return n


def min_test_events(folds: int | None) -> int:
    """The fewest test events the evaluation runs with: the test split is cut into a
    reference and a pool half (genhep.contracts.reference_and_pool), and the classifier test
    compares ``len(pool)`` events per class (``folds`` None or 0: no classifier test; the
    metrics then need 2 events per half)."""
    per_half = classifier_events_needed(folds) if folds else 2
    return 2 * per_half


def check_split_sizes(
    counts: Mapping[str, int],
    n_events: int,
    source: str | os.PathLike,
    fractions: Mapping[str, float],
    folds: int | None = None,
    dropped: int = 0,
) -> None:
    """Every split large enough for training, validation and the evaluation, or one
    GenhepError with the counts and the config keys that set them."""
    needed = {"train": MIN_TRAIN_EVENTS, "val": MIN_VAL_EVENTS, "test": min_test_events(folds)}
    short = [s for s in SPLITS if counts[s] < needed[s]]
    if not short:
        return
    split = ", ".join(f"{s}: {fractions[s]:g}" for s in SPLITS)
    have = ", ".join(f"{s} {counts[s]}" for s in SPLITS)
    after = f" ({dropped} outside the training range dropped)" if dropped else ""
    why = (
        f"the evaluation's classifier test with evaluate.folds = {folds} needs "
        f"{needed['test'] // 2} per half of the test split"
        if folds
        else "the evaluation compares two halves of the test split"
    )
    raise GenhepError(
        f"too few events: {source} holds {n_events} events, split by preprocess.split "
        f"{{{split}}} into {have}{after}; needed at least train {needed['train']}, "
        f"val {needed['val']}, test {needed['test']} ({why}); too small: {', '.join(short)}. "
        "Give more events (toy.n_events, or more or larger input files), "
        "raise the small splits' preprocess.split fractions"
        + (" or lower evaluate.folds" if folds and "test" in short else "")
    )


def split_indices(n: int, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Disjoint index sets covering all ``n`` rows, by one seeded permutation."""
    sizes = split_sizes(n, fractions)
    perm = np.random.default_rng(seed).permutation(n)
    n_train, n_val = sizes["train"], sizes["val"]
    parts = {
        "train": perm[:n_train],
        "val": perm[n_train : n_train + n_val],
        "test": perm[n_train + n_val :],
    }
    for split, idx in parts.items():
        if len(idx) == 0:
            raise GenhepError(
                f"config key preprocess.split.{split}: the {split} split would be empty "
                f"({n} events in all)"
            )
    return {k: np.sort(v) for k, v in parts.items()}


def preprocess(
    features_path: str | os.PathLike,
    outputs: Mapping[str, str | os.PathLike],
    transform_path: str | os.PathLike,
    feature_names: Sequence[str] | None = None,
    context_name: str | None = "mjj",
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    steps: Sequence[str] = ("minmax", "logit", "standardize"),
    context_steps: Sequence[str] = ("standardize",),
    margin: float = 0.05,
    folds: int | None = None,
    bounds: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, int]]:
    """Split the feature table, fit the transforms on train, write the three splits.

    ``folds``: the evaluation's classifier k-fold (evaluate.folds; None or 0: not checked),
    for the smallest test split it runs with (:func:`check_split_sizes`). ``bounds``:
    physical ranges beyond the known features' (config key preprocess.bounds, see
    :func:`physical_bounds`). Nothing is written unless every split is large enough and
    every transform parameter finite.
    """
    fractions = fractions or {"train": 0.6, "val": 0.2, "test": 0.2}
    table, attrs = read_table(features_path, written_by=FEATURES_RULE)
    if not table or not len(next(iter(table.values()))):
        raise damaged(features_path, "it holds no events", FEATURES_RULE)
    available = [c for c in table if c not in ("label", "weight")]
    if context_name is not None and context_name not in table:
        raise GenhepError(
            f"config key preprocess.context: {features_path} has no column {context_name!r} "
            f"(has: {available})"
        )
    if feature_names is None:
        feature_names = [c for c in available if c != context_name]
    missing = [c for c in feature_names if c not in table]
    if missing:
        raise GenhepError(
            f"config key preprocess.features: {features_path} has no column(s) {missing} "
            f"(has: {available})"
        )
    if not feature_names:
        raise GenhepError("config key preprocess.features: no feature columns to model")
    check_bounds(bounds or {}, [*feature_names, *([context_name] if context_name else [])])

    x = np.column_stack([table[c] for c in feature_names]).astype(np.float64)
    c = table[context_name].astype(np.float64)[:, None] if context_name else None
    # Too few events: said before anything is fitted, with the sizes the split would have.
    check_split_sizes(split_sizes(len(x), fractions), len(x), features_path, fractions, folds)
    idx = split_indices(len(x), fractions, seed)

    chain = TransformChain.build(feature_names, steps, margin, bounds).fit(x[idx["train"]])
    ctx_chain = (
        TransformChain.build([context_name], context_steps, margin, bounds).fit(c[idx["train"]])
        if context_name
        else None
    )
    if chain.bounds and list(steps[:2]) != ["minmax", "logit"]:
        log.warning(
            "preprocess.transforms %s does not start with minmax, logit: generated events "
            "are not held inside the physical bounds %s (the evaluation counts them)",
            list(steps),
            chain.bounds,
        )
    report_bounds(chain, x, ctx_chain, c)
    pre = Preprocessor(chain, ctx_chain)
    problems = pre.problems()
    if problems:
        raise GenhepError(
            f"cannot fit the transforms on the training split of {features_path}: "
            + "; ".join(problems)
        )

    summary, parts = {}, {}
    for split in SPLITS:
        rows = idx[split]
        xs = chain.forward(x[rows])
        ok = np.isfinite(xs).all(axis=1)
        cs = None
        if ctx_chain is not None:
            cs = ctx_chain.forward(c[rows])
            ok &= np.isfinite(cs).all(axis=1)
        unphysical = chain.outside(x[rows]).any(axis=1)
        if ctx_chain is not None:
            unphysical |= ctx_chain.outside(c[rows]).any(axis=1)
        summary[split] = {
            "events": int(ok.sum()),
            "dropped_out_of_range": int((~ok).sum()),  # unphysical ones included
            "dropped_unphysical": int(unphysical.sum()),
            "nudged_off_bound": int((chain.on_bound(x[rows]).any(axis=1) & ok).sum()),
        }
        parts[split] = (rows, ok, xs, cs)
    # Events outside the training range are dropped: the splits must still be large enough.
    check_split_sizes(
        {s: summary[s]["events"] for s in SPLITS},
        len(x),
        features_path,
        fractions,
        folds,
        dropped=sum(summary[s]["dropped_out_of_range"] for s in SPLITS),
    )

    # Every output is renamed into place only when all of them are written.
    with contextlib.ExitStack() as stack:
        stack.enter_context(atomic_path(transform_path)).write_text(pre.to_json())
        for split in SPLITS:
            rows, ok, xs, cs = parts[split]
            write_split_file(
                stack.enter_context(atomic_path(outputs[split])),
                pre,
                xs[ok],
                None if cs is None else cs[ok],
                table["label"][rows][ok] if "label" in table else None,
                rows[ok],
                {
                    "split": split,
                    "fractions": dict(fractions),
                    "seed": seed,
                    **summary[split],
                    "source": str(Path(features_path).resolve()),
                    "source_events_kept": attrs.get("events_kept", len(x)),
                },
                weights=table["weight"][rows][ok] if "weight" in table else None,
            )
    return summary


def run(settings: PreprocessSettings, inputs: Files, outputs: Files) -> dict[str, dict[str, int]]:
    """The preprocess stage: ``inputs.features`` split into ``outputs.train``, ``val`` and
    ``test``, the transforms fitted on train written to ``outputs.transform``."""
    summary = preprocess(
        inputs.features,
        {split: outputs[split] for split in SPLITS},
        outputs.transform,
        feature_names=settings.features,
        context_name=settings.context,
        fractions=as_config(settings.split),
        seed=settings.seed,
        steps=settings.transforms,
        context_steps=settings.context_transforms,
        margin=settings.minmax_margin,
        folds=settings.classifier_folds,
        bounds=settings.bounds,
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
    return summary


STAGE = Stage(
    "preprocess",
    run,
    PreprocessSettings,
    inputs=("features",),
    outputs=(*SPLITS, "transform"),
    description="Split the feature table into train/val/test and fit the invertible "
    "transforms on train.",
)


def report_bounds(
    chain: TransformChain, x: np.ndarray, ctx_chain: TransformChain | None, c: np.ndarray | None
) -> None:
    """Log, per column, the events outside their physical range (dropped) and those on a
    physical bound (nudged inside), over the whole table."""
    for ch, values in ((chain, x), (ctx_chain, c)):
        if ch is None:
            continue
        outside, on_bound = ch.outside(values).sum(axis=0), ch.on_bound(values).sum(axis=0)
        for name, n_out, n_on in zip(ch.names, outside, on_bound, strict=True):
            lo, hi = ch.bounds.get(name, (None, None))
            if n_out:
                log.warning(
                    "%s: %d of %d events outside the physical range [%s, %s], dropped "
                    "(config key preprocess.bounds.%s sets the range)",
                    name,
                    n_out,
                    len(values),
                    lo,
                    hi,
                    name,
                )
            if n_on:
                log.info(
                    "%s: %d of %d events exactly on a physical bound of [%s, %s], moved "
                    "%g of the min-max width inside (finite logit)",
                    name,
                    n_on,
                    len(values),
                    lo,
                    hi,
                    BOUND_NUDGE,
                )
