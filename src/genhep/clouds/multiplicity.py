"""How many particles a generated jet has: the training set's multiplicity, given the jet.

A cloud generator is told the number of real particles n of every jet it makes (the mask
is the first n slots; the last context column is n / N). At sampling, n must come from
somewhere: as in EPiC-GAN and EPiC-FM, it is drawn from the training set's multiplicity
distribution, conditional on the jet-level condition, here as a histogram of n in
quantile bins of the first condition (jet pT by default): a harder jet radiates more.
Without a condition there is one bin, the marginal distribution.

The sampler is fitted on the training split only and saved as JSON in every cloud split
(genhep.contracts.clouds), so the sampling stage needs nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np


class MultiplicitySampler:
    """p(n | bin of ``column``): ``edges`` the bins' inner edges (physical units),
    ``counts[b][k]`` the training jets of bin b with k real particles (k = 0 … N)."""

    def __init__(self, column: str | None, edges: list[float], counts: list[list[int]]):
        self.column = column
        self.edges = np.asarray(edges, dtype=np.float64)
        self.counts = np.asarray(counts, dtype=np.int64)
        if self.counts.ndim != 2 or len(self.counts) != len(self.edges) + 1:
            raise ValueError(f"multiplicity: {len(self.counts)} bins for {len(self.edges)} edges")
        if np.any(self.counts.sum(axis=1) == 0):
            raise ValueError("multiplicity: a bin without training jets")

    @property
    def n_particles(self) -> int:
        """N, the largest multiplicity."""
        return self.counts.shape[1] - 1

    @classmethod
    def fit(
        cls,
        n_real: np.ndarray,
        n_particles: int,
        values: np.ndarray | None = None,
        column: str | None = None,
        bins: int = 10,
    ) -> MultiplicitySampler:
        """From the training jets' multiplicities ``n_real`` and, if conditioned, their
        ``values`` of ``column``: ``bins`` quantile bins (fewer where quantiles coincide)."""
        n_real = np.asarray(n_real, dtype=np.int64)
        if values is None or bins == 1:
            return cls(
                column if values is not None else None, [], [_histogram(n_real, n_particles)]
            )
        quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(quantiles)
        which = np.searchsorted(edges, values, side="right")
        counts = [_histogram(n_real[which == b], n_particles) for b in range(len(edges) + 1)]
        edges = list(edges)
        b = 0
        while b < len(counts):  # an empty bin (ties at an edge) merges into a neighbour
            if counts[b].sum() == 0 and len(counts) > 1:
                del counts[b], edges[max(b - 1, 0)]
            else:
                b += 1
        return cls(column, edges, counts)

    def sample(
        self, values: np.ndarray | None, rng: np.random.Generator, size: int = 0
    ) -> np.ndarray:
        """One multiplicity per jet: per row of ``values`` (the jets' ``column``), or
        ``size`` draws from the single bin when unconditioned."""
        if self.column is None:
            return _draw(self.counts[0], size, rng)
        values = np.asarray(values, dtype=np.float64)
        which = np.searchsorted(self.edges, values, side="right")
        out = np.empty(len(values), dtype=np.int64)
        for b in range(len(self.counts)):  # in bin order: reproducible for a seed
            rows = np.flatnonzero(which == b)
            out[rows] = _draw(self.counts[b], len(rows), rng)
        return out

    def to_json(self) -> str:
        return json.dumps(
            {"column": self.column, "edges": self.edges.tolist(), "counts": self.counts.tolist()}
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MultiplicitySampler:
        return cls(d["column"], list(d["edges"]), list(d["counts"]))


def _histogram(n_real: np.ndarray, n_particles: int) -> np.ndarray:
    return np.bincount(n_real, minlength=n_particles + 1)[: n_particles + 1]


def _draw(counts: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(len(counts), size=size, p=counts / counts.sum())
