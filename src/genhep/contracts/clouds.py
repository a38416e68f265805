"""The files of jets as particle clouds (genhep.clouds): the cloud store and the cloud split.

**Cloud store** (the ingested jets of a class, ``results/jets/features/{class}.h5``; the
test split's halves; generated jets, per shard and gathered): one row per jet, written
with :func:`write_clouds` or chunk by chunk with :func:`cloud_writer` (bounded memory),
read with :func:`read_clouds` (all jets or a slice) and :func:`cloud_store_attrs`:

- ``particles``: float32 (jets, N, 3) = etarel, phirel, ptrel, by pT_rel descending;
- ``mask``: bool (jets, N), True for a real particle, a prefix of each row (padding: 0);
- ``jets/<name>``: float64 (jets,), the jet features (pt and mass in TeV, eta,
  num_particles), in the order of the attribute ``jet_features``;
- ``label``: int64 (jets,), the class index into the attribute ``classes``, where known;
- attributes: ``kind`` ("clouds"), ``particle_features``, ``jet_features``, ``classes``,
  ``n_particles`` (N), ``jets``, ``written_by``, ``created_utc``, ``genhep_version``,
  and the writer's own provenance.

Every dataset is chunked by CLOUD_CHUNK_JETS jets, gzip level 1 with shuffle (as the
tables): a padded cloud is mostly zeros, which this compresses well.

**Cloud split** (``results/jets/preprocessed/{class}/{train,val,test}.h5``; written by
the cloud preprocess stage with :func:`write_cloud_split`, read with
:func:`load_cloud_split`; training reads it with genhep.contracts.read_split_arrays, as
it reads an event table's split). The split file's layout with a cloud in each row:

- ``features``: float32 (n, N, 4): the transformed (etarel, phirel, ptrel), 0 in padded
  slots, and the mask as a fourth channel (1 real, 0 padding);
- ``context``: float32 (n, C + 1): the transformed jet condition, then n_real / N;
- ``row``: int64 (n,), the jet's row in the cloud store it was split from;
- attributes: ``transform`` (the :class:`~genhep.clouds.transforms.CloudPreprocessor`
  JSON), ``multiplicity`` (the :class:`~genhep.clouds.multiplicity.MultiplicitySampler`
  JSON), ``condition`` (the jet features in the context), ``n_particles``, and the
  writer's provenance.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import genhep
from genhep.clouds import PARTICLE_FEATURES, Clouds
from genhep.contracts import read_split_arrays, split_transform_text
from genhep.errors import GenhepError
from genhep.io.atomic import HDF5_OVERHEAD_BYTES, atomic_path, reserve
from genhep.io.hdf5 import check_columns, damaged, decode_attr, write_attrs

CLOUD_STORE_KIND = "clouds"
CLOUD_CHUNK_JETS = 4096
_CLOUD_DATASETS = ("particles", "mask", "jets")
CLOUD_SPLITS_RULE = "preprocess_clouds"


class CloudWriter:
    """A cloud store open for writing: append :class:`Clouds` chunks (one N, one set of
    jet features), then it is closed and renamed into place by :func:`cloud_writer`."""

    def __init__(self, h5file: h5py.File, chunk_jets: int):
        self._file = h5file
        self._chunk_jets = chunk_jets
        self.jets = 0
        self.first: Clouds | None = None

    def append(self, clouds: Clouds) -> None:
        arrays = {"particles": clouds.particles, "mask": clouds.mask}
        arrays.update(
            {f"jets/{k}": np.asarray(v, dtype=np.float64) for k, v in clouds.jets.items()}
        )
        if clouds.label is not None:
            arrays["label"] = np.asarray(clouds.label, dtype=np.int64)
        if self.first is None:
            self.first = clouds
            self._create(arrays)
        elif set(arrays) != self._names:
            raise ValueError("every chunk of a cloud store must hold the same arrays")
        for name, data in arrays.items():
            dataset = self._file[name]
            dataset.resize(self.jets + len(data), axis=0)
            dataset[self.jets :] = data
        self.jets += len(clouds)

    def _create(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._names = set(arrays)
        self._file.create_group("jets")  # even with no jet features: the layout is fixed
        rows = max(1, min(self._chunk_jets, len(next(iter(arrays.values())))))
        for name, data in arrays.items():
            rest = data.shape[1:]
            self._file.create_dataset(
                name,
                shape=(0, *rest),
                dtype=data.dtype,
                chunks=(rows, *rest),
                maxshape=(None, *rest),
                compression="gzip",
                compression_opts=1,
                shuffle=True,
            )


@contextlib.contextmanager
def cloud_writer(
    path: str | os.PathLike,
    attrs: Mapping[str, Any] | None = None,
    written_by: str = "",
    chunk_jets: int = CLOUD_CHUNK_JETS,
    reserve_bytes: int = 0,
) -> Iterator[CloudWriter]:
    """Write a cloud store chunk by chunk, atomically: renamed into place when the block
    ends without an error, with ``attrs`` (and any the block adds to ``writer.attrs``);
    ``reserve_bytes``: free space checked first (genhep.io.atomic.reserve)."""
    with atomic_path(path) as tmp:
        reserve(tmp, reserve_bytes + 4 * HDF5_OVERHEAD_BYTES)
        with h5py.File(tmp, "w") as f:
            yield from _write_store(f, path, attrs, written_by, chunk_jets)


def _write_store(f, path, attrs, written_by, chunk_jets) -> Iterator[CloudWriter]:
    writer = CloudWriter(f, chunk_jets)
    writer.attrs = dict(attrs or {})
    yield writer
    if writer.first is None:
        raise GenhepError(f"{path}: no jets to write")
    first = writer.first
    write_attrs(
        f,
        {
            **writer.attrs,
            "kind": CLOUD_STORE_KIND,
            "particle_features": list(PARTICLE_FEATURES),
            "jet_features": list(first.jets),
            "classes": list(first.classes),
            "n_particles": first.n_particles,
            "jets": writer.jets,
            "written_by": written_by,
            "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "genhep_version": genhep.__version__,
        },
    )


def write_clouds(
    path: str | os.PathLike,
    clouds: Clouds,
    attrs: Mapping[str, Any] | None = None,
    written_by: str = "",
    chunk_jets: int = CLOUD_CHUNK_JETS,
) -> None:
    """Write ``clouds`` as a cloud store, atomically (nothing half-written is left under
    ``path``); ``written_by``: the rule or stage that writes it, named when it is damaged."""
    nbytes = clouds.particles.nbytes + clouds.mask.nbytes + 8 * len(clouds) * (len(clouds.jets) + 1)
    with cloud_writer(path, attrs, written_by, chunk_jets, nbytes) as writer:
        writer.append(clouds)


def cloud_store_jets(path: str | os.PathLike) -> int:
    """How many jets a cloud store holds."""
    return int(cloud_store_attrs(path)["jets"])


def _cloud_store(path: Path, f: h5py.File) -> dict[str, Any]:
    """The attributes of a cloud store, or a GenhepError naming what it lacks."""
    attrs = {k: decode_attr(v) for k, v in f.attrs.items()}
    missing = [k for k in _CLOUD_DATASETS if k not in f]
    if "jets" in f:
        missing += [f"jets/{k}" for k in attrs.get("jet_features", []) if k not in f["jets"]]
    if attrs.get("kind") != CLOUD_STORE_KIND:
        missing.append(f"attribute kind = {CLOUD_STORE_KIND!r}")
    missing += [f"attribute {a}" for a in ("jet_features", "classes") if a not in attrs]
    if missing:
        raise GenhepError(
            f"{path}: not a cloud store: no {', '.join(missing)} (found datasets "
            f"{sorted(f.keys()) or 'none'}, attributes {sorted(attrs) or 'none'})"
        )
    return attrs


def cloud_store_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """The attributes of a cloud store (JSON text decoded back), without its arrays."""
    return _read_cloud_store(Path(path), lambda f, attrs: attrs, None)


def read_clouds(
    path: str | os.PathLike, start: int = 0, stop: int | None = None, written_by: str = ""
) -> Clouds:
    """Jets ``start`` to ``stop`` of a cloud store, exactly as written, validated: a file
    that is no cloud store names what it lacks; one that cannot be read, or whose arrays
    disagree, is damaged (``written_by``, or the file's own, says how to regenerate it)."""
    path = Path(path)

    def read(f: h5py.File, attrs: dict[str, Any]) -> Clouds:
        jets = {k: f["jets"][k][start:stop] for k in attrs["jet_features"]}
        label = f["label"][start:stop] if "label" in f else None
        particles, mask = f["particles"][start:stop], f["mask"][start:stop]
        columns = {"particles": particles, "mask": mask, **jets}
        if label is not None:
            columns["label"] = label
        check_columns(path, columns, written_by or None)
        try:
            return Clouds(particles, mask, jets, label, tuple(attrs["classes"]))
        except ValueError as err:
            raise damaged(path, str(err), written_by or attrs.get("written_by") or None) from err

    return _read_cloud_store(path, read, written_by)


def _read_cloud_store(path: Path, read, written_by: str | None):
    if not path.exists():
        raise GenhepError(f"{path}: cloud store does not exist")
    if path.stat().st_size == 0:
        raise damaged(path, "empty file", written_by or None)
    try:
        with h5py.File(path, "r") as f:
            return read(f, _cloud_store(path, f))
    except GenhepError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise damaged(path, f"not a readable HDF5 file: {reason}", written_by or None) from err


# --- the cloud split ---------------------------------------------------------------------


def write_cloud_split(
    path: str | os.PathLike,
    features: np.ndarray,
    context: np.ndarray,
    rows: np.ndarray,
    attrs: Mapping[str, Any],
) -> None:
    """One cloud split in the layout training reads (see the module docstring),
    atomically; ``attrs`` must hold its ``transform`` and ``multiplicity`` JSON."""
    arrays = {"features": features, "context": context, "row": np.asarray(rows, dtype=np.int64)}
    with atomic_path(path) as tmp:
        reserve(tmp, sum(a.nbytes for a in arrays.values()) + HDF5_OVERHEAD_BYTES)
        with h5py.File(tmp, "w") as f:
            for name, data in arrays.items():
                f.create_dataset(name, data=data)
            write_attrs(f, dict(attrs))


def load_cloud_split(path: str | os.PathLike) -> dict[str, Any]:
    """A cloud split's arrays and attributes, validated like an event table's split
    (genhep.contracts.read_split_arrays), with its transform read back (``preprocessor``)
    and its ``multiplicity`` JSON decoded."""
    from genhep.clouds.transforms import CloudPreprocessor  # numpy only; kept local

    out = read_split_arrays(path, CLOUD_SPLITS_RULE)
    features = out["features"]
    if features.ndim != 3 or features.shape[2] != len(PARTICLE_FEATURES) + 1:
        raise damaged(
            path,
            f"features of shape {features.shape}, not (jets, N, {len(PARTICLE_FEATURES) + 1})",
            CLOUD_SPLITS_RULE,
        )
    out["preprocessor"] = CloudPreprocessor.from_json(
        split_transform_text(out), source=Path(path), written_by=CLOUD_SPLITS_RULE
    )
    out["attrs"] = {k: decode_attr(v) for k, v in out["attrs"].items()}
    return out


def split_particles(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(particles (jets, N, 3), mask bool (jets, N)) of a cloud split's ``features``."""
    return features[..., : len(PARTICLE_FEATURES)], features[..., -1] > 0.5


def join_particles(particles: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A cloud split's ``features``: ``particles`` with the mask as a last channel."""
    return np.concatenate([particles, mask[..., None].astype(particles.dtype)], axis=-1)
