"""Jets as particle clouds: the second kind of data, in JetNet's convention.

A jet is a set of up to N constituents, each (Δη, Δφ, pT_rel) relative to the jet axis,
zero-padded to N with a mask. Everything of this data kind lives in this package (readers,
transforms, the four-momentum check), beside the event-table modules and not inside them:
the shared stages see a :class:`Clouds` only through the functions named here.

:class:`Clouds` is the one in-memory form that every reader returns and the cloud store
(genhep.contracts.clouds.write_clouds / read_clouds) writes and reads back, so a model, a metric
or a plot never depends on where the jets came from. Its invariants (all but the pT
order checked on construction, as a reader's bug would otherwise surface far downstream):

- ``particles``: float32 (jets, N, 3) = (etarel, phirel, ptrel), real particles first,
  ordered by pT_rel descending; padded slots hold exactly 0;
- ``mask``: bool (jets, N), True for a real particle, a prefix of each row;
- ``jets``: {name: float64 (jets,)}: ``pt`` and ``mass`` in TeV (genhep's unit; JetNet
  files hold GeV and the readers convert), ``eta``, ``num_particles`` (the jet's
  constituents, at most N, as JetNet's loader counts them);
- ``label``: int64 (jets,) index into ``classes`` (JetNet's g, q, t, w, z), or None.

This module imports numpy only, so the settings and the contracts module can name it
without pulling in uproot or awkward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# JetNet's particle features (its 'mask' column becomes Clouds.mask) and jet features.
PARTICLE_FEATURES = ("etarel", "phirel", "ptrel")
JET_FEATURES = ("pt", "eta", "mass", "num_particles")
# JetNet's jet classes, in its order (the label is an index into this tuple).
JETNET_CLASSES = ("g", "q", "t", "w", "z")
# What each class means, for messages, plots and the report.
CLASS_NAMES = {
    "g": "gluon",
    "q": "light quark",
    "t": "top quark (hadronic)",
    "w": "W boson",
    "z": "Z boson",
}


@dataclass(frozen=True)
class Clouds:
    """Jets as padded particle clouds with a mask (see the module docstring)."""

    particles: np.ndarray
    mask: np.ndarray
    jets: Mapping[str, np.ndarray]
    label: np.ndarray | None = None
    classes: tuple[str, ...] = field(default=JETNET_CLASSES)

    def __post_init__(self) -> None:
        p, m = self.particles, self.mask
        if p.dtype != np.float32 or p.ndim != 3 or p.shape[2] != len(PARTICLE_FEATURES):
            raise ValueError(f"particles must be float32 (jets, N, 3), not {p.dtype} {p.shape}")
        if m.dtype != np.bool_ or m.shape != p.shape[:2]:
            raise ValueError(f"mask must be bool {p.shape[:2]}, not {m.dtype} {m.shape}")
        for name, values in self.jets.items():
            if values.shape != (len(p),):
                raise ValueError(f"jets[{name!r}] has shape {values.shape}, not ({len(p)},)")
        if self.label is not None and self.label.shape != (len(p),):
            raise ValueError(f"label has shape {self.label.shape}, not ({len(p)},)")
        if np.any(m[:, 1:] & ~m[:, :-1]):
            raise ValueError("mask must be a prefix of each row (real particles first)")
        if np.any(p[~m]):
            raise ValueError("padded slots (mask False) must hold exactly 0")

    def __len__(self) -> int:
        return len(self.particles)

    @property
    def n_particles(self) -> int:
        """N, the padded length of every cloud."""
        return self.particles.shape[1]

    def take(self, index: slice | np.ndarray) -> Clouds:
        """The jets at ``index`` (a slice or indices), every array cut alike."""
        return Clouds(
            self.particles[index],
            self.mask[index],
            {k: v[index] for k, v in self.jets.items()},
            None if self.label is None else self.label[index],
            self.classes,
        )


def concat(chunks: Sequence[Clouds]) -> Clouds:
    """One :class:`Clouds` of several chunks (of one reader: same N, jet features, classes)."""
    if not chunks:
        raise ValueError("no chunks to concatenate")
    first = chunks[0]
    labels = [c.label for c in chunks]
    return Clouds(
        np.concatenate([c.particles for c in chunks]),
        np.concatenate([c.mask for c in chunks]),
        {k: np.concatenate([c.jets[k] for c in chunks]) for k in first.jets},
        None if any(lab is None for lab in labels) else np.concatenate(labels),
        first.classes,
    )


def sort_by_pt(particles: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real particles first, by pT_rel descending (ties keep their order); padded slots
    last and zeroed. The readers call it so the leading-N cut keeps the hardest particles
    whatever order a file stores them in."""
    key = np.where(mask, -particles[..., 2].astype(np.float64), np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    particles = np.take_along_axis(particles, order[..., None], axis=1)
    mask = np.take_along_axis(mask, order, axis=1)
    return np.where(mask[..., None], particles, 0).astype(np.float32), mask


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Δφ wrapped into (−π, π]; values already inside are returned untouched (bit for bit)."""
    dphi = np.asarray(dphi, dtype=np.float64)
    wrapped = np.pi - np.mod(np.pi - dphi, 2 * np.pi)
    return np.where((dphi > -np.pi) & (dphi <= np.pi), dphi, wrapped)
