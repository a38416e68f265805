"""Read jets as particle clouds from JetNet's HDF5 files (ROOT files: genhep.clouds.root).

Both readers return :class:`genhep.clouds.Clouds` chunks (bounded memory: one chunk of
``chunk_size`` jets at a time), so everything downstream is one code path whatever the
input. Energies become TeV, genhep's unit, on reading (JetNet's files hold GeV).

A file in the wrong layout is one :class:`~genhep.errors.GenhepError` that names the
file, what was expected and what was found, before any jet is used: a misread column
order would otherwise train a model on nonsense without a word.

**JetNet's HDF5** (``g.hdf5``, ``t150.hdf5``, ... from Zenodo): datasets
``particle_features`` (jets, N, 4) = etarel, phirel, ptrel, mask (1 real, 0 padding,
real particles first) and ``jet_features`` (jets, 4) = pt [GeV], eta, mass [GeV],
num_particles. The class is not in the file: JetNet takes it from the file name, and so
does :func:`iter_jetnet` (or pass ``jet_class``).

**ROOT**, one TTree entry per jet: jet branches with one number per entry (pt, eta, mass,
and phi where the constituents are absolute) and jagged constituent branches, either
relative to the jet (etarel, phirel, ptrel) or absolute (pt, eta, phi), from which
Δη = η − η_jet, Δφ = φ − φ_jet wrapped into (−π, π] and pT_rel = pT / pT_jet. The
branch names and the energy unit come from a small mapping (:func:`resolve_cloud_mapping`;
units as in genhep.io.mappings.ENERGY_TO_TEV).

Both readers keep the leading ``n_particles`` constituents by pT (sorted first, whatever
order the file has), pad with zeros and a False mask, and count ``num_particles`` as
JetNet's loader does: the jet's constituents, at most N.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genhep.clouds import JETNET_CLASSES, Clouds, concat, sort_by_pt
from genhep.errors import GenhepError
from genhep.io.mappings import ENERGY_TO_TEV

CHUNK_SIZE = 16_384  # jets per chunk: ~40 MB read at N = 150 (all N are read, then cut)

# --- JetNet's HDF5 layout ----------------------------------------------------------------

JETNET_PARTICLES = "particle_features"
JETNET_JETS = "jet_features"
JETNET_LAYOUT = {
    JETNET_PARTICLES: "(jets, N, 4): etarel, phirel, ptrel, mask",
    JETNET_JETS: "(jets, 4): pt, eta, mass, num_particles",
}
# g.hdf5, t150.hdf5 (JetNet's names): the class is the leading letter.
_JETNET_NAME = re.compile(r"^([a-z])(?:30|150)?$")


def _expected() -> str:
    return "expected JetNet's layout: " + "; ".join(f"{k} {v}" for k, v in JETNET_LAYOUT.items())


def _jetnet_shape(path: Path, f: h5py.File) -> tuple[int, int]:
    """(jets, N) of a JetNet file, or a GenhepError naming what is not JetNet's layout."""
    missing = [k for k in JETNET_LAYOUT if k not in f or not isinstance(f[k], h5py.Dataset)]
    if missing:
        raise GenhepError(
            f"{path}: no dataset {', '.join(missing)}; {_expected()} "
            f"(found: {sorted(f.keys()) or 'nothing'})"
        )
    pf, jf = f[JETNET_PARTICLES], f[JETNET_JETS]
    if pf.ndim != 3 or pf.shape[2] != 4 or pf.shape[1] == 0:
        raise GenhepError(
            f"{path}: {JETNET_PARTICLES} has shape {pf.shape}; "
            f"expected {JETNET_LAYOUT[JETNET_PARTICLES]}"
        )
    if jf.ndim != 2 or jf.shape[1] != 4:
        raise GenhepError(
            f"{path}: {JETNET_JETS} has shape {jf.shape}; expected {JETNET_LAYOUT[JETNET_JETS]}"
        )
    if pf.shape[0] != jf.shape[0]:
        raise GenhepError(
            f"{path}: {JETNET_PARTICLES} holds {pf.shape[0]} jets but {JETNET_JETS} "
            f"{jf.shape[0]}; expected one row per jet in both"
        )
    for name, ds in ((JETNET_PARTICLES, pf), (JETNET_JETS, jf)):
        if ds.dtype.kind not in "fiu":
            raise GenhepError(f"{path}: {name} holds {ds.dtype}; expected numbers")
    return pf.shape[0], pf.shape[1]


def _jetnet_label(path: Path, jet_class: str | None, classes: tuple[str, ...]) -> int | None:
    """The class index of every jet of the file: ``jet_class``, else the file's JetNet
    name (g.hdf5, t150.hdf5), else None (no label)."""
    if jet_class is None:
        found = _JETNET_NAME.match(path.stem)
        jet_class = found.group(1) if found and found.group(1) in classes else None
        return None if jet_class is None else classes.index(jet_class)
    if jet_class not in classes:
        raise GenhepError(f"{path}: jet class {jet_class!r} is none of {list(classes)}")
    return classes.index(jet_class)


def _check_mask(path: Path, mask: np.ndarray, first_jet: int) -> np.ndarray:
    """JetNet's mask column as bool: 0 or 1 only, real particles first."""
    bad = (mask != 0) & (mask != 1)
    if bad.any():
        jet, slot = np.argwhere(bad)[0]
        raise GenhepError(
            f"{path}: {JETNET_PARTICLES}[..., 3] (mask) holds {mask[jet, slot].item():g} at jet "
            f"{first_jet + jet}, particle {slot}; expected 1 for a real particle, 0 for padding "
            f"({JETNET_LAYOUT[JETNET_PARTICLES]})"
        )
    mask = mask == 1
    after_padding = mask[:, 1:] & ~mask[:, :-1]
    if after_padding.any():
        jet, slot = np.argwhere(after_padding)[0]
        raise GenhepError(
            f"{path}: the mask of jet {first_jet + jet} is not a prefix (a real particle at "
            f"position {slot + 1} after padding); expected real particles first, then padding"
        )
    return mask


def iter_jetnet(
    path: str | Path,
    n_particles: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    jet_class: str | None = None,
    energy_unit: str = "GeV",
    classes: tuple[str, ...] = JETNET_CLASSES,
) -> Iterator[Clouds]:
    """The jets of a JetNet HDF5 file, ``chunk_size`` at a time (h5py slices: bounded
    memory). The layout is checked now, before the first chunk is asked for.

    ``n_particles``: keep the leading N by pT_rel (None: the file's N); ``jet_class``: the
    class of every jet (None: from a JetNet file name, else no label); ``energy_unit``: of
    the file's pt and mass (JetNet's: GeV), converted to TeV.
    """
    path = Path(path)
    with _open_hdf5(path) as f:
        n_jets, n_file = _jetnet_shape(path, f)
    if n_jets == 0:
        raise GenhepError(f"{path}: holds no jets ({JETNET_PARTICLES} has shape (0, ...))")
    n = n_file if n_particles is None else int(n_particles)
    if not 1 <= n <= n_file:
        raise GenhepError(f"{path}: n_particles {n}; the file holds 1 to {n_file} per jet")
    label = _jetnet_label(path, jet_class, classes)
    scale = ENERGY_TO_TEV[energy_unit]
    return _jetnet_chunks(path, n_jets, n, chunk_size, label, scale, classes)


def _jetnet_chunks(path, n_jets, n, chunk_size, label, scale, classes) -> Iterator[Clouds]:
    with _open_hdf5(path) as f:
        for start in range(0, n_jets, chunk_size):
            stop = min(start + chunk_size, n_jets)
            pf = f[JETNET_PARTICLES][start:stop]  # all N: the leading n by pT are cut below
            jf = np.asarray(f[JETNET_JETS][start:stop], dtype=np.float64)
            mask = _check_mask(path, pf[..., 3], start)
            if not (np.isfinite(pf[..., :3][mask]).all() and np.isfinite(jf).all()):
                raise GenhepError(f"{path}: NaN or infinite values in jets {start} to {stop - 1}")
            particles, mask = sort_by_pt(pf[..., :3].astype(np.float32), mask)
            jets = {
                "pt": jf[:, 0] * scale,
                "eta": jf[:, 1],
                "mass": jf[:, 2] * scale,
                "num_particles": np.minimum(jf[:, 3], n),
            }
            labels = None if label is None else np.full(stop - start, label, dtype=np.int64)
            yield Clouds(particles[:, :n], mask[:, :n], jets, labels, classes)


def read_jetnet(path: str | Path, n_particles: int | None = None, **options: Any) -> Clouds:
    """A whole JetNet HDF5 file as one :class:`Clouds` (options as :func:`iter_jetnet`)."""
    return concat(list(iter_jetnet(path, n_particles, **options)))


@contextlib.contextmanager
def _open_hdf5(path: Path) -> Iterator[h5py.File]:
    """h5py.File for reading, with a missing or unreadable file named as such."""
    if not path.exists():
        raise GenhepError(f"{path}: file does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        reason = " ".join(str(err).split())
        raise GenhepError(f"{path}: not a readable HDF5 file ({reason}); {_expected()}") from err
    with f:
        yield f
