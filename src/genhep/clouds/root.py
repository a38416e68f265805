"""Read jets as particle clouds from ROOT files, one TTree entry per jet (JetNet's HDF5
files: genhep.clouds.readers, whose docstring describes both layouts).

Jet branches hold one number per entry (pt, eta, mass, and phi where the constituents are
absolute); constituent branches are jagged, either relative to the jet (etarel, phirel,
ptrel) or absolute (pt, eta, phi), from which Δη = η − η_jet, Δφ = φ − φ_jet wrapped into
(−π, π] and pT_rel = pT / pT_jet. The branch names and the energy unit come from a small
mapping (:func:`resolve_cloud_mapping`; units as in genhep.io.mappings.ENERGY_TO_TEV).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from genhep.clouds import JETNET_CLASSES, PARTICLE_FEATURES, Clouds, concat, wrap_phi
from genhep.clouds.readers import CHUNK_SIZE
from genhep.errors import GenhepError
from genhep.io.mappings import ENERGY_TO_TEV
from genhep.io.root import (
    JAGGED,
    NUMBER,
    branch_hint,
    branch_type,
    iterate_branches,
    open_tree,
)

# --- ROOT, one entry per jet -------------------------------------------------------------

RELATIVE = PARTICLE_FEATURES  # constituents given relative to the jet
ABSOLUTE = ("pt", "eta", "phi")  # constituents given absolutely
CLOUD_PRESETS: dict[str, dict[str, Any]] = {
    # What genhep's own jets source is to write (relative constituents, GeV).
    "genhep": {
        "tree": "jets",
        "energy_unit": "GeV",
        "jet": {k: f"jet_{k}" for k in ("pt", "eta", "phi", "mass")},
        "constituents": {k: f"part_{k}" for k in RELATIVE},
        "label": "jet_class",
    },
}


@dataclass(frozen=True)
class CloudMapping:
    """Which branches of a per-jet TTree hold the jet and its constituents."""

    tree: str
    jet: dict[str, str]  # pt, eta, mass; phi where the constituents are absolute
    constituents: dict[str, str]  # RELATIVE or ABSOLUTE keys
    energy_unit: str = "GeV"
    label: str | None = None  # a per-jet class index into classes
    classes: tuple[str, ...] = JETNET_CLASSES

    @property
    def relative(self) -> bool:
        return set(self.constituents) == set(RELATIVE)

    def describe(self) -> dict[str, Any]:
        """The mapping as plain data, for provenance attributes."""
        return {
            "tree": self.tree,
            "jet": self.jet,
            "constituents": self.constituents,
            "energy_unit": self.energy_unit,
            "label": self.label,
            "classes": list(self.classes),
        }


def resolve_cloud_mapping(spec: str | Mapping[str, Any], where: str = "mapping") -> CloudMapping:
    """A preset name (:data:`CLOUD_PRESETS`) or a dict ({tree, energy_unit, jet: {pt, eta,
    phi, mass}, constituents: {etarel, phirel, ptrel} or {pt, eta, phi}, label, classes})
    as a :class:`CloudMapping`; ``where`` names the config key in errors."""
    if isinstance(spec, str):
        if spec not in CLOUD_PRESETS:
            raise GenhepError(f"{where}: unknown preset {spec!r} (known: {list(CLOUD_PRESETS)})")
        spec = CLOUD_PRESETS[spec]
    cons = dict(spec.get("constituents") or {})
    if set(cons) not in (set(RELATIVE), set(ABSOLUTE)):
        raise GenhepError(
            f"{where}.constituents: give {', '.join(RELATIVE)} (relative to the jet) or "
            f"{', '.join(ABSOLUTE)} (absolute), not {sorted(cons) or 'nothing'}"
        )
    jet = dict(spec.get("jet") or {})
    need = ("pt", "eta", "mass") + (("phi",) if set(cons) == set(ABSOLUTE) else ())
    missing = [k for k in need if not jet.get(k)]
    if missing:
        why = " (absolute constituents need the jet's phi)" if "phi" in missing else ""
        raise GenhepError(f"{where}.jet: missing {missing}{why}")
    unit = spec.get("energy_unit", "GeV")
    if unit not in ENERGY_TO_TEV:
        raise GenhepError(f"{where}.energy_unit: one of {list(ENERGY_TO_TEV)}, not {unit!r}")
    if not spec.get("tree"):
        raise GenhepError(f"{where}.tree: name the TTree to read")
    jet = {k: jet[k] for k in ("pt", "eta", "phi", "mass") if jet.get(k)}
    classes = tuple(spec.get("classes") or JETNET_CLASSES)
    return CloudMapping(spec["tree"], jet, cons, unit, spec.get("label"), classes)


def _root_branches(path: Path, tree, mapping: CloudMapping) -> dict[str, Any]:
    """{branch name: TBranch} of the mapped branches, each checked to hold what it must."""
    wanted = [(f"jet.{k}", b, NUMBER) for k, b in mapping.jet.items()]
    wanted += [(f"constituents.{k}", b, JAGGED) for k, b in mapping.constituents.items()]
    if mapping.label:
        wanted.append(("label", mapping.label, NUMBER))
    found = {}
    for key, name, layout in wanted:
        try:
            branch = tree[name]
        except KeyError:
            raise GenhepError(
                f"{path}: TTree {mapping.tree!r} has no branch {name!r} (mapping key {key}). "
                f"{branch_hint(tree, name)}"
            ) from None
        kind = branch_type(branch)
        if kind.layout != layout or kind.is_bool:
            need = (
                "one number per entry (one TTree entry per jet)"
                if layout == NUMBER
                else "a jagged branch of numbers, one per constituent (one TTree entry per jet)"
            )
            raise GenhepError(
                f"{path}: branch {name!r} {kind.describe()}; mapping key {key} expects {need}"
            )
        found[name] = branch
    return found


def iter_root_clouds(
    path: str | Path,
    mapping: CloudMapping | str | Mapping[str, Any],
    n_particles: int = 30,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Clouds]:
    """The jets of a per-jet ROOT TTree, ``chunk_size`` entries at a time (uproot.iterate:
    bounded memory). Branches are checked now, before the first chunk is asked for."""
    path = Path(path)
    if not isinstance(mapping, CloudMapping):
        mapping = resolve_cloud_mapping(mapping)
    if n_particles < 1:
        raise GenhepError(f"{path}: n_particles must be 1 or more, not {n_particles}")
    tree = open_tree(path, mapping.tree)
    branches = _root_branches(path, tree, mapping)
    if tree.num_entries == 0:
        raise GenhepError(f"{path}: TTree {mapping.tree!r} holds no jets (no entries)")
    return _root_chunks(path, tree, branches, mapping, int(n_particles), chunk_size)


def _root_chunks(path, tree, branches, mapping, n, chunk_size) -> Iterator[Clouds]:
    first = 0
    for arrays, _ in iterate_branches(path, tree, branches, mapping.tree, chunk_size):
        clouds = _root_chunk(path, arrays, mapping, n, first)
        first += len(clouds)
        yield clouds


def _root_chunk(path: Path, arrays, mapping: CloudMapping, n: int, first: int) -> Clouds:
    """One chunk of per-jet branches as :class:`Clouds` (see the module docstring)."""
    scale = ENERGY_TO_TEV[mapping.energy_unit]
    jet = {k: ak.to_numpy(arrays[b]).astype(np.float64) for k, b in mapping.jet.items()}
    cons = {k: ak.values_astype(arrays[b], np.float64) for k, b in mapping.constituents.items()}
    counts = {mapping.constituents[k]: ak.to_numpy(ak.num(v, axis=1)) for k, v in cons.items()}
    reference = next(iter(counts.values()))
    for name, count in counts.items():
        differ = np.flatnonzero(count != reference)
        if len(differ):
            i = differ[0]
            raise GenhepError(
                f"{path}: constituent branches {list(counts)} hold different numbers of "
                f"constituents for jet {first + i} ({name}: {count[i]}, "
                f"{next(iter(counts))}: {reference[i]}); expected one value per constituent in each"
            )
    if mapping.relative:
        etarel, phirel, ptrel = (cons[k] for k in RELATIVE)
    else:
        bad = np.flatnonzero(~(jet["pt"] > 0))
        if len(bad):
            raise GenhepError(
                f"{path}: jet {first + bad[0]} has pt {jet['pt'][bad[0]]} "
                f"(branch {mapping.jet['pt']!r}); pT_rel needs pt > 0"
            )
        etarel = cons["eta"] - jet["eta"]
        phirel = cons["phi"] - jet["phi"]
        ptrel = cons["pt"] / jet["pt"]
    order = ak.argsort(ptrel, axis=1, ascending=False, stable=True)
    padded = [ak.pad_none(x[order], n, axis=1, clip=True) for x in (etarel, phirel, ptrel)]
    mask = ak.to_numpy(~ak.is_none(padded[2], axis=1))
    values = [ak.to_numpy(ak.fill_none(x, 0.0)).astype(np.float64) for x in padded]
    values[1] = np.where(mask, wrap_phi(values[1]), 0.0)
    particles = np.stack(values, axis=-1).astype(np.float32)
    if not (np.isfinite(particles).all() and all(np.isfinite(v).all() for v in jet.values())):
        raise GenhepError(
            f"{path}: NaN or infinite values in jets {first} to {first + len(mask) - 1}"
        )
    jets = {
        "pt": jet["pt"] * scale,
        "eta": jet["eta"],
        "mass": jet["mass"] * scale,
        "num_particles": np.minimum(reference, n).astype(np.float64),
    }
    label = None
    if mapping.label:
        raw = ak.to_numpy(arrays[mapping.label])
        label = raw.astype(np.int64)
        bad = np.flatnonzero((label != raw) | (label < 0) | (label >= len(mapping.classes)))
        if len(bad):
            raise GenhepError(
                f"{path}: branch {mapping.label!r} holds {raw[bad[0]]} at jet {first + bad[0]}; "
                f"expected a class index 0 to {len(mapping.classes) - 1} "
                f"({', '.join(mapping.classes)})"
            )
    return Clouds(particles, mask, jets, label, mapping.classes)


def read_root_clouds(
    path: str | Path, mapping: CloudMapping | str | Mapping[str, Any], n_particles: int = 30
) -> Clouds:
    """A whole per-jet ROOT TTree as one :class:`Clouds` (see :func:`iter_root_clouds`)."""
    return concat(list(iter_root_clouds(path, mapping, n_particles)))
