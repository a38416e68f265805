"""Invertible transforms for particle clouds: per particle feature, and for the jet condition.

The particle transform is genhep.transforms' :class:`~genhep.transforms.TransformChain`
(min-max, logit, standardize, the same steps and JSON as the event table's), applied to
the real particles only: the clouds are flattened to their masked particles (k, 3), the
chain is fitted on those, and applied to those. Padding is no data: a padded slot never
enters a fit (zero padding would otherwise pile up as a spike at Δη = Δφ = pT_rel = 0 and
drag every mean and minimum), and it is exactly 0 on both sides of the transform, whatever
a generator wrote there, so the mask alone says what a cloud holds.

pT_rel is bounded below by 0 (:data:`PARTICLE_BOUNDS`): the leading min-max step keeps
generated particles physical, as genhep.bounds does for the event table. A real particle
outside its bounds has no image (NaN in ``forward``), as in the tabular chain.

The jet condition (:class:`JetConditionTransform`) is a list of jet features, each
optionally log-scaled (pt and mass span decades; the multiplicity is standardized as it
is), then standardized. Both transforms are saved together as JSON by
:class:`CloudPreprocessor`, read back validated (a damaged file is named as such).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genhep.clouds import PARTICLE_FEATURES
from genhep.errors import GenhepError
from genhep.io.hdf5 import damaged
from genhep.transforms import Standardize, TransformChain, read_saved

PARTICLE_STEPS = ("minmax", "logit", "standardize")  # CATHODE's chain, as for the table
PARTICLE_BOUNDS: dict[str, list[float | None]] = {"ptrel": [0.0, None]}
LOG_SCALED = ("pt", "mass")  # jet features log-scaled by default when conditioned on


class ParticleTransform:
    """A :class:`TransformChain` over (etarel, phirel, ptrel) of the real particles."""

    def __init__(self, chain: TransformChain):
        if chain.names != list(PARTICLE_FEATURES):
            raise ValueError(f"particle transform columns {chain.names}, not {PARTICLE_FEATURES}")
        self.chain = chain

    @classmethod
    def build(
        cls,
        steps: Sequence[str] = PARTICLE_STEPS,
        margin: float = 0.05,
        bounds: Mapping[str, Any] | None = None,
    ) -> ParticleTransform:
        """Unfitted; ``bounds`` replaces :data:`PARTICLE_BOUNDS` per feature."""
        merged = {**PARTICLE_BOUNDS, **(bounds or {})}
        return cls(TransformChain.build(PARTICLE_FEATURES, steps, margin, merged))

    def fit(self, particles: np.ndarray, mask: np.ndarray) -> ParticleTransform:
        """Fit on the real particles (``mask`` True) only."""
        real = np.asarray(particles, dtype=np.float64)[np.asarray(mask, dtype=bool)]
        if len(real) == 0:
            raise GenhepError("cannot fit the particle transform: no real particle (mask empty)")
        self.chain.fit(real)
        return self

    def forward(self, particles: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """float32 (jets, N, 3) in the model's space; padded slots 0."""
        return self._apply(self.chain.forward, particles, mask)

    def inverse(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """float32 (jets, N, 3) back in (Δη, Δφ, pT_rel); padded slots 0."""
        return self._apply(self.chain.inverse, values, mask)

    @staticmethod
    def _apply(step, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool)
        out = np.zeros(np.shape(values), dtype=np.float32)
        out[mask] = step(np.asarray(values, dtype=np.float64)[mask])
        return out

    def to_dict(self) -> dict[str, Any]:
        return self.chain.to_dict()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParticleTransform:
        return cls(TransformChain.from_dict(d))


class JetConditionTransform:
    """The jet features a model is conditioned on: ``names`` (e.g. pt, mass,
    num_particles), those in ``log`` log-scaled first, then all standardized."""

    def __init__(self, names: Sequence[str], log: Sequence[str], chain: TransformChain):
        self.names, self.log = list(names), [n for n in names if n in log]
        self.chain = chain

    @classmethod
    def build(cls, names: Sequence[str], log: Sequence[str] | None = None):
        """Unfitted; ``log`` defaults to those of ``names`` in :data:`LOG_SCALED`."""
        names = list(names)
        if not names or len(set(names)) != len(names):
            raise GenhepError(f"jet condition: name each jet feature once, not {names}")
        log = [n for n in LOG_SCALED if n in names] if log is None else list(log)
        unknown = [n for n in log if n not in names]
        if unknown:
            raise GenhepError(f"jet condition: log-scaled {unknown} are not among {names}")
        return cls(names, log, TransformChain(names, [Standardize()]))

    def _scaled(self, jets: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = [n for n in self.names if n not in jets]
        if missing:
            raise GenhepError(f"jet condition: no jet feature {missing} (has {sorted(jets)})")
        cols = []
        for name in self.names:
            values = np.asarray(jets[name], dtype=np.float64)
            if name in self.log:
                if np.any(values <= 0):
                    raise GenhepError(
                        f"jet condition: {np.count_nonzero(values <= 0)} jet(s) with {name} "
                        "<= 0, which has no log; leave it out of the log-scaled features"
                    )
                values = np.log(values)
            cols.append(values)
        return np.column_stack(cols)

    def fit(self, jets: Mapping[str, np.ndarray]) -> JetConditionTransform:
        self.chain.fit(self._scaled(jets))
        return self

    def forward(self, jets: Mapping[str, np.ndarray]) -> np.ndarray:
        """float32 (jets, len(names)): the condition a model sees."""
        return self.chain.forward(self._scaled(jets)).astype(np.float32)

    def inverse(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """{name: float64 (jets,)} in physical units (TeV for pt and mass)."""
        scaled = self.chain.inverse(np.asarray(values, dtype=np.float64))
        return {
            n: np.exp(scaled[:, i]) if n in self.log else scaled[:, i]
            for i, n in enumerate(self.names)
        }

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.names, "log": self.log, "chain": self.chain.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JetConditionTransform:
        return cls(d["columns"], d["log"], TransformChain.from_dict(d["chain"]))


class CloudPreprocessor:
    """The particle transform and the (optional) jet condition, saved together as JSON."""

    def __init__(self, particles: ParticleTransform, condition: JetConditionTransform | None):
        self.particles = particles
        self.condition = condition

    def fit(self, clouds) -> CloudPreprocessor:
        """Fit both on ``clouds`` (a genhep.clouds.Clouds, the training split)."""
        self.particles.fit(clouds.particles, clouds.mask)
        if self.condition is not None:
            self.condition.fit(clouds.jets)
        return self

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": "clouds",
                "particles": self.particles.to_dict(),
                "condition": self.condition and self.condition.to_dict(),
            },
            indent=2,
        )

    def problems(self) -> list[str]:
        chains = [self.particles.chain]
        chains += [self.condition.chain] if self.condition is not None else []
        return [p for chain in chains for p in chain.problems()]

    @classmethod
    def from_json(
        cls, text: str, source: str | os.PathLike | None = None, written_by: str | None = None
    ) -> CloudPreprocessor:
        """The transform saved as ``text``, validated: unreadable JSON, another kind of
        transform or unusable parameters are a GenhepError calling ``source`` damaged
        (``written_by``: the rule that writes it, for how to regenerate it)."""
        where = source if source is not None else "the cloud transform"
        try:
            d = json.loads(text)
            if d.get("kind") != "clouds":
                raise ValueError(f"kind is {d.get('kind')!r}, not 'clouds'")
            cond = d.get("condition")
            pre = cls(
                ParticleTransform.from_dict(d["particles"]),
                cond and JetConditionTransform.from_dict(cond),
            )
            problems = pre.problems()
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            reason = f"not a saved cloud transform: {type(err).__name__}: {err}"
            raise damaged(where, " ".join(reason.split()), written_by) from err
        if problems:
            raise damaged(where, "; ".join(problems), written_by)
        return pre

    @classmethod
    def load(cls, path: str | os.PathLike, written_by: str | None = None) -> CloudPreprocessor:
        text = read_saved(path, written_by, "cloud transform file")
        return cls.from_json(text, source=Path(path), written_by=written_by)
