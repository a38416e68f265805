"""Branch mappings: how a ROOT file's branches become genhep's jets or feature columns.

Two kinds:
    jets   jagged per-jet branches: the four-momentum either as (pt, eta, phi, mass) or
           as Cartesian components (px, py, pz, energy), not a mix, and optionally tau1,
           tau2, tau3; the LHCO features are computed from the two leading jets (without
           the τ branches, only the kinematic ones: mjj, mj_min, delta_mj). Cartesian jets
           are converted to (pt, eta, phi, mass) on reading (see genhep.ingest).
    flat   one branch per output column (e.g. an ntuple that already holds mjj, ...).

Either kind may name a ``label`` branch (signal = 1) and a ``weight`` branch (a
per-event weight, carried into the feature table and the splits as ``weight``).

A field is a branch name, or ``{"branch": name, "index": i}`` for a fixed-size inner
dimension (Delphes stores N-subjettiness as ``FatJet.Tau[5]``). What each branch must hold
(jagged numbers for jets, one number per event for flat columns, no bool but a label) is
checked against the file before reading: genhep.io.root.check_branch_types.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genhep.errors import GenhepError

JET_KINEMATICS = ("pt", "eta", "phi", "mass")
JET_CARTESIAN = ("px", "py", "pz", "energy")
JET_TAUS = ("tau1", "tau2", "tau3")
JET_KEYS = JET_KINEMATICS + JET_TAUS
ALL_JET_KEYS = JET_KINEMATICS + JET_CARTESIAN + JET_TAUS
# The jet fields in energy units: scaled by ENERGY_TO_TEV[energy_unit] on reading.
JET_ENERGY_KEYS = ("pt", "mass", "px", "py", "pz", "energy")
ENERGY_TO_TEV = {"MeV": 1e-6, "GeV": 1e-3, "TeV": 1.0}

PRESETS: dict[str, dict[str, Any]] = {
    # What the toy and pythia sources write.
    "genhep": {
        "kind": "jets",
        "tree": "events",
        "energy_unit": "GeV",
        "jets": {k: f"jet_{k}" for k in JET_KEYS},
        "label": "label",
    },
    # Delphes large-radius jets; N-subjettiness τ1..τ5 sit in one fixed-size branch.
    "delphes": {
        "kind": "jets",
        "tree": "Delphes",
        "energy_unit": "GeV",
        "jets": {
            "pt": "FatJet.PT",
            "eta": "FatJet.Eta",
            "phi": "FatJet.Phi",
            "mass": "FatJet.Mass",
            "tau1": {"branch": "FatJet.Tau[5]", "index": 0},
            "tau2": {"branch": "FatJet.Tau[5]", "index": 1},
            "tau3": {"branch": "FatJet.Tau[5]", "index": 2},
        },
        "label": None,
    },
    # CMS NanoAOD AK8 jets.
    "nanoaod": {
        "kind": "jets",
        "tree": "Events",
        "energy_unit": "GeV",
        "jets": {k: f"FatJet_{k}" for k in JET_KEYS},
        "label": None,
    },
    # CMS NanoAOD AK4 jets: no N-subjettiness, so only the kinematic features.
    "nanoaod_ak4": {
        "kind": "jets",
        "tree": "Events",
        "energy_unit": "GeV",
        "jets": {k: f"Jet_{k}" for k in JET_KINEMATICS},
        "label": None,
    },
    # A flat ntuple of LHCO features, one branch each, already in TeV.
    "lhco_flat": {
        "kind": "flat",
        "tree": "events",
        "columns": {
            "mjj": {"branch": "mjj", "unit": "TeV"},
            "mj_min": {"branch": "mj_min", "unit": "TeV"},
            "delta_mj": {"branch": "delta_mj", "unit": "TeV"},
            "tau21_min": {"branch": "tau21_min", "unit": ""},
            "tau21_max": {"branch": "tau21_max", "unit": ""},
        },
        "label": "label",
    },
    # The LHC Olympics 2020 features files (R&D, black boxes): pandas HDF5 tables, key
    # 'df', read by genhep.io.lhco, which derives these per-jet fields from the columns
    # pxj1..tau3j1, pxj2..tau3j2 (GeV); 'tree' is the HDF5 key, 'label' a column.
    "lhco_rnd": {
        "kind": "jets",
        "format": "lhco_hdf5",
        "tree": "df",
        "energy_unit": "GeV",
        "jets": {k: f"jet_{k}" for k in JET_KEYS},
        "label": "label",
    },
}
FILE_FORMATS = ("root", "lhco_hdf5")  # how a mapping's files are read


@dataclass(frozen=True)
class Field:
    branch: str
    index: int | None = None


@dataclass(frozen=True)
class BranchMapping:
    kind: str
    tree: str
    fields: dict[str, Field]  # jets: ALL_JET_KEYS that are mapped; flat: output column names
    units: dict[str, str]  # flat: unit of each column as stored in the file
    energy_unit: str
    label: str | None
    weight: str | None = None
    file_format: str = "root"  # FILE_FORMATS: "lhco_hdf5" files are read by genhep.io.lhco

    @property
    def has_taus(self) -> bool:
        return self.kind == "jets" and all(k in self.fields for k in JET_TAUS)

    @property
    def cartesian(self) -> bool:
        """Jets given as (px, py, pz, energy) rather than (pt, eta, phi, mass)."""
        return self.kind == "jets" and all(k in self.fields for k in JET_CARTESIAN)

    @property
    def branches(self) -> list[str]:
        names = [f.branch for f in self.fields.values()]
        names += [b for b in (self.label, self.weight) if b]
        return list(dict.fromkeys(names))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tree": self.tree,
            "energy_unit": self.energy_unit,
            "fields": {k: [f.branch, f.index] for k, f in self.fields.items()},
            "units": self.units,
            "label": self.label,
            "weight": self.weight,
            "format": self.file_format,
        }


def _field(value: Any, where: str) -> Field:
    if isinstance(value, str):
        return Field(value)
    if isinstance(value, Mapping) and isinstance(value.get("branch"), str):
        index = value.get("index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise GenhepError(f"config key {where}.index: must be an integer")
        if index is not None and index < 0:
            raise GenhepError(f"config key {where}.index: must be 0 or more, not {index}")
        return Field(value["branch"], index)
    raise GenhepError(f"config key {where}: must be a branch name or {{branch, index}}")


def _check_jet_keys(jets: Mapping[str, Any], where: str) -> None:
    """The four-momentum as (pt, eta, phi, mass) or as (px, py, pz, energy), complete and
    not mixed; the τ branches all three or none."""
    polar = [k for k in JET_KINEMATICS if k in jets]
    cartesian = [k for k in JET_CARTESIAN if k in jets]
    if polar and cartesian:
        raise GenhepError(
            f"config key {where}: give the jet four-momentum either as "
            f"{', '.join(JET_KINEMATICS)} or as {', '.join(JET_CARTESIAN)}, not a mix "
            f"(got {', '.join(polar + cartesian)})"
        )
    if cartesian:
        missing = [k for k in JET_CARTESIAN if k not in jets]
        also = f" (Cartesian jets need all of {', '.join(JET_CARTESIAN)})"
    else:
        missing = [k for k in JET_KINEMATICS if k not in jets]
        also = f" (or give {', '.join(JET_CARTESIAN)} instead)" if not polar else ""
    taus = [k for k in JET_TAUS if k in jets]
    if taus and len(taus) < len(JET_TAUS):
        missing += [k for k in JET_TAUS if k not in jets]  # all three τ, or none
    if missing:
        raise GenhepError(f"config key {where}: missing {missing}{also}")


def resolve_mapping(spec: str | Mapping[str, Any], tree: str | None = None) -> BranchMapping:
    """A preset name, or a dict (optionally ``preset: name`` plus overrides), to a mapping."""
    where = "files.mapping"
    if isinstance(spec, str):
        spec = {"preset": spec}
    spec = dict(spec)
    preset = spec.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise GenhepError(
                f"config key {where}: unknown preset {preset!r} (known: {', '.join(PRESETS)})"
            )
        merged = copy.deepcopy(PRESETS[preset])
        for key, value in spec.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                if key == "jets":
                    # Overriding a preset's four-momentum with the other representation
                    # (e.g. px, py, pz, energy over a pt, eta, phi, mass preset) replaces it.
                    for mine, other in (
                        (JET_KINEMATICS, JET_CARTESIAN),
                        (JET_CARTESIAN, JET_KINEMATICS),
                    ):
                        if any(k in value for k in mine):
                            for k in other:
                                merged[key].pop(k, None)
                merged[key].update(value)
            else:
                merged[key] = value
        spec = merged
    if tree:
        spec["tree"] = tree
    kind = spec.get("kind", "jets")
    if kind not in ("jets", "flat"):
        raise GenhepError(f"config key {where}.kind: must be 'jets' or 'flat', not {kind!r}")
    if not spec.get("tree"):
        raise GenhepError(f"config key {where}.tree: name the TTree to read")
    energy_unit = spec.get("energy_unit", "GeV")
    if energy_unit not in ENERGY_TO_TEV:
        raise GenhepError(f"config key {where}.energy_unit: one of {list(ENERGY_TO_TEV)}")
    units: dict[str, str] = {}
    if kind == "jets":
        jets = {k: v for k, v in (spec.get("jets") or {}).items() if v is not None}
        unknown = sorted(set(jets) - set(ALL_JET_KEYS))
        if unknown:
            raise GenhepError(
                f"config key {where}.jets: unknown key(s) {unknown} (known: {ALL_JET_KEYS})"
            )
        _check_jet_keys(jets, f"{where}.jets")
        fields = {k: _field(jets[k], f"{where}.jets.{k}") for k in ALL_JET_KEYS if k in jets}
    else:
        columns = spec.get("columns") or {}
        if not columns:
            raise GenhepError(f"config key {where}.columns: a flat mapping needs columns")
        fields, units = {}, {}
        for name, value in columns.items():
            fields[name] = _field(value, f"{where}.columns.{name}")
            unit = value.get("unit", "") if isinstance(value, Mapping) else ""
            if unit not in ("", *ENERGY_TO_TEV):
                raise GenhepError(f"config key {where}.columns.{name}.unit: unknown unit {unit!r}")
            units[name] = unit
    file_format = spec.get("format", "root")
    if file_format not in FILE_FORMATS:
        raise GenhepError(f"config key {where}.format: one of {list(FILE_FORMATS)}")
    return BranchMapping(
        kind,
        spec["tree"],
        fields,
        units,
        energy_unit,
        spec.get("label"),
        spec.get("weight"),
        file_format=file_format,
    )
