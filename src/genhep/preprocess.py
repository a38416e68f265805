"""Preprocessing: a seeded train/val/test split and invertible transforms fitted on train.

The default chain is CATHODE's: min-max scaling into (0, 1), the logit, then
standardization. Each step is fitted on the output of the previous one, on the training
split only, and the whole chain is saved as JSON so any sample can be mapped back to
physical units with :meth:`TransformChain.inverse`.

Min-max bounds are widened by a margin on each side, so that the logit of every training
event is finite; validation/test events outside the widened bounds have no image under
the logit and are dropped, counted per split.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
from scipy.special import expit, logit

from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path
from genhep.io.hdf5 import read_table, write_attrs

SPLITS = ("train", "val", "test")


class Step:
    """One invertible, column-wise transform with parameters fitted on data."""

    name: ClassVar[str]

    def fit(self, x: np.ndarray) -> Step:
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def inverse(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {}


class MinMax(Step):
    """x → (x − lo) / (hi − lo), bounds = training range widened by ``margin`` × range."""

    name = "minmax"

    def __init__(self, margin: float = 0.05, lo=None, hi=None):
        self.margin = margin
        self.lo = None if lo is None else np.asarray(lo, dtype=np.float64)
        self.hi = None if hi is None else np.asarray(hi, dtype=np.float64)

    def fit(self, x):
        lo, hi = x.min(axis=0), x.max(axis=0)
        width = hi - lo
        if np.any(width <= 0):
            raise ValueError(f"constant column(s) {np.flatnonzero(width <= 0).tolist()}")
        self.lo, self.hi = lo - self.margin * width, hi + self.margin * width
        return self

    def forward(self, x):
        return (x - self.lo) / (self.hi - self.lo)

    def inverse(self, y):
        return y * (self.hi - self.lo) + self.lo

    def params(self):
        return {"margin": self.margin, "lo": self.lo.tolist(), "hi": self.hi.tolist()}


class Logit(Step):
    """p → log(p / (1 − p)); NaN outside (0, 1)."""

    name = "logit"

    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = logit(x)
        y[(x <= 0) | (x >= 1)] = np.nan  # the bounds themselves map to ±inf: no image
        return y

    def inverse(self, y):
        return expit(y)


class Standardize(Step):
    """x → (x − mean) / std."""

    name = "standardize"

    def __init__(self, mean=None, std=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    def fit(self, x):
        self.mean, self.std = x.mean(axis=0), x.std(axis=0)
        if np.any(self.std <= 0):
            raise ValueError(f"zero-variance column(s) {np.flatnonzero(self.std <= 0).tolist()}")
        return self

    def forward(self, x):
        return (x - self.mean) / self.std

    def inverse(self, y):
        return y * self.std + self.mean

    def params(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


STEP_TYPES: dict[str, type[Step]] = {cls.name: cls for cls in (MinMax, Logit, Standardize)}


class TransformChain:
    """An ordered list of steps applied to the columns ``names``."""

    def __init__(self, names: Sequence[str], steps: Sequence[Step]):
        self.names = list(names)
        self.steps = list(steps)

    @classmethod
    def build(cls, names: Sequence[str], step_names: Sequence[str], margin: float = 0.05):
        steps = []
        for step in step_names:
            if step not in STEP_TYPES:
                raise GenhepError(
                    f"config key preprocess: unknown transform {step!r} (known: {list(STEP_TYPES)})"
                )
            steps.append(MinMax(margin) if step == "minmax" else STEP_TYPES[step]())
        return cls(names, steps)

    def fit(self, x: np.ndarray) -> TransformChain:
        x = np.asarray(x, dtype=np.float64)
        for step in self.steps:
            try:
                step.fit(x)
            except ValueError as err:
                raise GenhepError(f"cannot fit {step.name} on columns {self.names}: {err}") from err
            x = step.forward(x)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=np.float64)
        for step in self.steps:
            x = step.forward(x)
        return x

    def inverse(self, y: np.ndarray) -> np.ndarray:
        y = np.array(y, dtype=np.float64)
        for step in reversed(self.steps):
            y = step.inverse(y)
        return y

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.names,
            "steps": [{"type": s.name, **s.params()} for s in self.steps],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TransformChain:
        steps = []
        for s in d["steps"]:
            s = dict(s)
            steps.append(STEP_TYPES[s.pop("type")](**s))
        return cls(d["columns"], steps)


class Preprocessor:
    """The feature chain and the (optional) context chain, saved together as JSON."""

    def __init__(self, features: TransformChain, context: TransformChain | None):
        self.features = features
        self.context = context

    def to_json(self) -> str:
        return json.dumps(
            {
                "features": self.features.to_dict(),
                "context": self.context and self.context.to_dict(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Preprocessor:
        d = json.loads(text)
        ctx = d.get("context")
        return cls(TransformChain.from_dict(d["features"]), ctx and TransformChain.from_dict(ctx))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Preprocessor:
        return cls.from_json(Path(path).read_text())


def split_indices(n: int, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Disjoint index sets covering all ``n`` rows, by one seeded permutation."""
    total = sum(fractions[s] for s in SPLITS)
    if not np.isclose(total, 1.0):
        raise GenhepError(
            f"config key preprocess.split: fractions must sum to 1 (they sum to {total:g})"
        )
    perm = np.random.default_rng(seed).permutation(n)
    n_train = round(fractions["train"] * n)
    n_val = round(fractions["val"] * n)
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
) -> dict[str, dict[str, int]]:
    """Split the feature table, fit the transforms on train, write the three splits."""
    fractions = fractions or {"train": 0.6, "val": 0.2, "test": 0.2}
    table, attrs = read_table(features_path)
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

    x = np.column_stack([table[c] for c in feature_names]).astype(np.float64)
    c = table[context_name].astype(np.float64)[:, None] if context_name else None
    idx = split_indices(len(x), fractions, seed)

    chain = TransformChain.build(feature_names, steps, margin).fit(x[idx["train"]])
    ctx_chain = (
        TransformChain.build([context_name], context_steps, margin).fit(c[idx["train"]])
        if context_name
        else None
    )
    pre = Preprocessor(chain, ctx_chain)

    summary = {}
    # Every output is renamed into place only when all of them are written.
    with contextlib.ExitStack() as stack:
        stack.enter_context(atomic_path(transform_path)).write_text(pre.to_json())
        for split in SPLITS:
            rows = idx[split]
            xs = chain.forward(x[rows])
            ok = np.isfinite(xs).all(axis=1)
            cs = None
            if ctx_chain is not None:
                cs = ctx_chain.forward(c[rows])
                ok &= np.isfinite(cs).all(axis=1)
            summary[split] = {"events": int(ok.sum()), "dropped_out_of_range": int((~ok).sum())}
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


def write_split_file(
    path: str | os.PathLike,
    pre: Preprocessor,
    features: np.ndarray,
    context: np.ndarray | None,
    labels: np.ndarray | None,
    rows: np.ndarray,
    attrs: Mapping[str, Any],
    weights: np.ndarray | None = None,
) -> None:
    """One split in the layout training reads (``load_split``): transformed columns, the
    row of each event in its source table, its weight if the source has one, and the
    Preprocessor that maps it back."""
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=features)
        if weights is not None:
            f.create_dataset("weight", data=weights)
        if context is not None:
            f.create_dataset("context", data=context)
        if labels is not None:
            f.create_dataset("label", data=labels)
        f.create_dataset("row", data=rows)
        write_attrs(
            f,
            {
                "feature_names": list(pre.features.names),
                "context_name": pre.context.names[0] if pre.context is not None else "",
                "transform": pre.to_json(),
                **attrs,
            },
        )


def load_split(path: str | os.PathLike) -> dict[str, Any]:
    """A split file as arrays plus its attributes and the Preprocessor that maps it back."""
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: split file does not exist")
    with h5py.File(path, "r") as f:
        out = {k: f[k][...] for k in f}
        attrs = dict(f.attrs)
    out["preprocessor"] = Preprocessor.from_json(attrs["transform"])
    out["attrs"] = attrs
    return out
