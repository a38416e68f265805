"""A chunk of branches read through a mapping (genhep.io.mappings), as physics arrays:
jets with their energies in TeV, or an event's flat columns. No file I/O: the readers
(genhep.io.root, genhep.io.lhco) give the chunks, ingestion (genhep.ingest) selects and
computes the features."""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from genhep.io.mappings import ENERGY_TO_TEV, JET_ENERGY_KEYS, BranchMapping


def jets_from_chunk(arrays: dict[str, ak.Array], mapping: BranchMapping) -> ak.Array:
    """A chunk's jets through a jet mapping: an awkward record array of the mapping's
    fields, energies in TeV, (pt, eta, phi, mass) from (px, py, pz, E) for a cartesian
    one."""
    scale = ENERGY_TO_TEV[mapping.energy_unit]
    fields = {}
    for key, field in mapping.fields.items():
        values = arrays[field.branch]
        if field.index is not None:
            values = values[..., field.index]
        if key in JET_ENERGY_KEYS:
            if mapping.cartesian:  # float64 before scaling: m² = E² − |p|² needs the digits
                values = ak.values_astype(values, np.float64)
            values = values * scale
        fields[key] = values
    if mapping.cartesian:
        fields = _polar_from_cartesian(fields)
    return ak.zip(fields)


def _polar_from_cartesian(fields: dict[str, ak.Array]) -> dict[str, ak.Array]:
    """(px, py, pz, energy) → (pt, eta, phi, mass) with the vector library; the other fields
    (τ) are kept.

    The mass is sqrt(max(m², 0)), m² = E² − |p|². For a light, boosted jet m² is a small
    difference of large numbers, and rounding (float32 branches, the unit scaling) can make
    it slightly negative. vector's ``.mass`` is then −sqrt(|m²|), which would become mj_min
    and inflate delta_mj (a plain sqrt would give NaN and drop the event); such a jet is
    massless within the precision of the file, so m² is clipped at 0.
    """
    components = {"px": fields["px"], "py": fields["py"], "pz": fields["pz"], "E": fields["energy"]}
    p4 = vector.zip(components)
    out = {"pt": p4.pt, "eta": p4.eta, "phi": p4.phi, "mass": np.sqrt(np.maximum(p4.tau2, 0.0))}
    out.update({k: v for k, v in fields.items() if k not in ("px", "py", "pz", "energy")})
    return out


def flat_columns(arrays: dict[str, ak.Array], mapping: BranchMapping) -> dict[str, np.ndarray]:
    """A chunk's columns through a flat (one value per event) mapping, as float64,
    energies in TeV."""
    cols = {}
    for name, field in mapping.fields.items():
        values = arrays[field.branch]
        if field.index is not None:
            values = values[..., field.index]
        values = ak.to_numpy(values).astype(np.float64)
        if mapping.units.get(name) in ENERGY_TO_TEV:
            values = values * ENERGY_TO_TEV[mapping.units[name]]
        cols[name] = values
    return cols
