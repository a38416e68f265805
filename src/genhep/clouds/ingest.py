"""The cloud ingest stage: a class's source files in, its cloud store out.

Each source file is read chunk by chunk (bounded memory) by the reader of its format:
JetNet's HDF5 layout (genhep.clouds.readers) or a per-jet ROOT tree with jagged
constituents (genhep.clouds.root; genhep's own Pythia jets use the ``genhep`` preset).
Every jet keeps its leading N constituents by pT. Where a file labels its jets, only those
of the stage's class are kept (one file may hold several classes); an unlabelled file's
jets are all of the class.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from genhep.clouds import Clouds
from genhep.clouds.readers import iter_jetnet
from genhep.clouds.root import iter_root_clouds, resolve_cloud_mapping
from genhep.contracts.clouds import cloud_writer
from genhep.errors import GenhepError
from genhep.settings.clouds import CloudIngestSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

WRITTEN_BY = "ingest_clouds"


def _chunks(path: Path, settings: CloudIngestSettings) -> Iterator[Clouds]:
    n, size = settings.n_particles, settings.chunk_size
    if settings.format == "jetnet":
        return iter_jetnet(path, n, size, jet_class=settings.jet_class)
    mapping = resolve_cloud_mapping(settings.mapping, "jets.files mapping")
    return iter_root_clouds(path, mapping, n, size)


def _of_class(chunk: Clouds, jet_class: str) -> Clouds:
    """The jets of ``jet_class``: all of an unlabelled chunk, labelled with it."""
    if jet_class not in chunk.classes:
        raise GenhepError(f"jet class {jet_class!r} is not among the file's {chunk.classes}")
    index = chunk.classes.index(jet_class)
    if chunk.label is None:
        return Clouds(
            chunk.particles,
            chunk.mask,
            chunk.jets,
            np.full(len(chunk), index, np.int64),
            chunk.classes,
        )
    return chunk.take(np.flatnonzero(chunk.label == index))


def run(settings: CloudIngestSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The jets of class ``settings.jet_class`` in ``inputs.sources``, the leading
    ``n_particles`` constituents each, at most ``max_jets``, into ``outputs.features``."""
    read = kept = 0
    limit = settings.max_jets
    attrs = {
        "sources": [str(p) for p in inputs.sources],
        "jet_class": settings.jet_class,
        "format": settings.format,
        "mapping": settings.mapping if settings.format == "root" else "",
    }
    with cloud_writer(outputs.features, attrs, WRITTEN_BY) as writer:
        for path in inputs.sources:
            for chunk in _chunks(Path(path), settings):
                read += len(chunk)
                chunk = _of_class(chunk, settings.jet_class)
                if limit is not None:
                    chunk = chunk.take(slice(0, limit - kept))
                if len(chunk):
                    writer.append(chunk)
                    kept += len(chunk)
                if limit is not None and kept >= limit:
                    break
            if limit is not None and kept >= limit:
                break
        if kept == 0:
            raise GenhepError(
                f"{', '.join(attrs['sources'])}: no jet of class {settings.jet_class!r} "
                f"among {read} read"
            )
        writer.attrs.update(jets_read=read)
    log.info("class %s: %d jets kept of %d read", settings.jet_class, kept, read)
    return {"jets_read": read, "jets": kept}


STAGE = Stage(
    "ingest_clouds",
    run,
    CloudIngestSettings,
    inputs=("sources*",),
    outputs=("features",),
    description="Read one jet class's files (JetNet HDF5 or ROOT) into a cloud store.",
)
