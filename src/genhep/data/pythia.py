"""LHC Olympics-like events from Pythia 8 and FastJet, one shard per job.

Two processes at √s = 13 TeV, both hadronized:

* background: QCD dijets (``HardQCD:all``) above a pTHat threshold. Set the threshold
  below the trigger (``ingest.selection.leading_jet_min_pt``; config/pythia.yaml: pTHat
  > 1 TeV, leading jet pT > 1.2 TeV, as in the LHCO R&D sample) so that the jet trigger,
  not the generator cut, shapes the mjj spectrum;
* signal: a scalar resonance H → X Y, standing in for the LHCO R&D benchmark W' → X Y
  (X → qq, Y → qq): a heavy neutral scalar H (PDG 35, gg → H) of mass ``m_resonance``
  whose only decay is to A (PDG 36, mass ``m_x``) and h (PDG 25, mass ``m_y``), both
  decaying to light quarks. It decays isotropically (spin 0), unlike a spin-1 W'; the jets
  are those of the benchmark: two boosted two-prong jets of masses m_x and m_y. Tried
  first and dropped: a Z' through ``ffbar2gmZZprime`` with one open fermion channel (that
  process picks its decay among fermion channels: 2 of 30 events held an X), and a
  W' → X Y channel (Pythia rejects the events: charge not conserved).

Every visible final-state particle (no neutrinos) within ``particle_max_abs_eta`` is
clustered with anti-kT, R = ``jet_r``; jets above ``jet_min_pt`` are kept, leading
first, with N-subjettiness τ1, τ2, τ3 (FastJet's N-jettiness: exclusive-kT axes, β = 1,
normalized measure with R0 = R). The shard is written to ROOT in the toy's schema
(``jet_pt, jet_eta, jet_phi, jet_mass, jet_tau1..3`` in GeV, and ``label``), so
ingestion reads it with the ``genhep`` mapping.

Each shard seeds Pythia with ``seed + shard``: shards are independent and reproducible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import awkward as ak
import numpy as np
import uproot
import vector

from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path

PROCESSES = ("qcd", "signal")
JET_FIELDS = ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")


@dataclass(frozen=True)
class PythiaParams:
    process: str = "qcd"
    events: int = 10_000  # per shard
    seed: int = 1  # shard k runs with seed + k
    sqrt_s: float = 13000.0  # GeV
    pthat_min: float = 1200.0  # GeV, the QCD hard process
    m_resonance: float = 3500.0  # GeV, the scalar H (the LHCO W' mass)
    m_x: float = 500.0  # GeV
    m_y: float = 100.0  # GeV
    jet_r: float = 1.0
    jet_min_pt: float = 200.0  # GeV
    max_jets: int = 4
    particle_max_abs_eta: float = 4.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], process: str) -> PythiaParams:
        known = {f.name for f in fields(cls)}
        unknown = set(cfg) - known - {"shards", "signal_shards", "signal_events"}
        if unknown:
            raise GenhepError(f"config key pythia: unknown setting(s) {sorted(unknown)}")
        if process not in PROCESSES:
            raise GenhepError(f"pythia: process must be one of {PROCESSES}, not {process!r}")
        return cls(
            **{k: v for k, v in cfg.items() if k in known and k != "process"}, process=process
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def settings(self, shard: int) -> list[str]:
        """Pythia's configuration strings for one shard."""
        common = [
            f"Beams:eCM = {self.sqrt_s}",
            "Random:setSeed = on",
            f"Random:seed = {self.seed + shard}",
            "Next:numberCount = 0",
            "Print:quiet = on",
        ]
        if self.process == "qcd":
            return common + ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {self.pthat_min}"]
        return common + [
            "Higgs:useBSM = on",
            "HiggsBSM:gg2H2 = on",
            f"35:m0 = {self.m_resonance}",
            f"36:m0 = {self.m_x}",
            f"25:m0 = {self.m_y}",
            # Narrow states (width 1% of the mass, forced: Pythia would compute wide
            # ones from the BSM couplings), and H within ±10% of its pole, where the
            # steep gluon luminosity would otherwise pile up Breit-Wigner tail events.
            *(f"{pdg}:doForceWidth = on" for pdg in (35, 36, 25)),
            f"35:mWidth = {0.01 * self.m_resonance}",
            f"36:mWidth = {0.01 * self.m_x}",
            f"25:mWidth = {0.01 * self.m_y}",
            f"35:mMin = {0.9 * self.m_resonance}",
            f"35:mMax = {1.1 * self.m_resonance}",
            # The resonance decays to X Y only, X and Y to light quarks. The process's
            # cross-section follows the BSM Higgs couplings and is meaningless here.
            "35:onMode = off",
            "35:addChannel = 1 1.0 100 36 25",
            "36:onMode = off",
            "36:onIfAny = 1 2 3",
            "25:onMode = off",
            "25:onIfAny = 1 2 3",
        ]


def _pythia(params: PythiaParams, shard: int):
    try:
        import pythia8mc as pythia8  # here: an optional dependency (genhep[pythia])
    except ImportError as err:
        raise GenhepError(
            "source 'pythia' needs the pythia8mc and fastjet packages: pip install 'genhep[pythia]'"
        ) from err
    pythia = pythia8.Pythia("", False)  # no banner
    for line in params.settings(shard):
        if not pythia.readString(line):
            raise GenhepError(f"pythia: setting {line!r} was rejected")
    if not pythia.init():
        raise GenhepError(f"pythia: initialization failed for the {params.process} process")
    return pythia


BLOCK_EVENTS = 1000  # events clustered and written at a time: bounds a shard's memory


def iter_particles(params: PythiaParams, shard: int, info: dict[str, Any]) -> Iterator[ak.Array]:
    """Visible final-state particles, (px, py, pz, E) in GeV, in blocks of BLOCK_EVENTS
    events; ``info`` is filled with the shard's facts as it goes."""
    pythia = _pythia(params, shard)
    info.update(process=params.process, shard=shard, seed=params.seed + shard, failed_events=0)
    done = 0
    while done < params.events:
        counts: list[int] = []
        px: list[float] = []
        py: list[float] = []
        pz: list[float] = []
        e: list[float] = []
        while len(counts) < min(BLOCK_EVENTS, params.events - done):
            if not pythia.next():
                info["failed_events"] += 1
                if info["failed_events"] > 10 + params.events // 10:
                    raise GenhepError(
                        f"pythia: {info['failed_events']} events failed to generate; "
                        "check the settings"
                    )
                continue
            n = 0
            for p in pythia.event:
                if p.isFinal() and p.isVisible() and abs(p.eta()) < params.particle_max_abs_eta:
                    px.append(p.px())
                    py.append(p.py())
                    pz.append(p.pz())
                    e.append(p.e())
                    n += 1
            counts.append(n)
        done += len(counts)
        yield ak.unflatten(
            ak.zip({"px": np.array(px), "py": np.array(py), "pz": np.array(pz), "E": np.array(e)}),
            np.array(counts),
        )
    info["events"] = done
    info["sigma_pb"] = pythia.infoPython().sigmaGen() * 1e9  # mb -> pb


def cluster_jets(particles: ak.Array, params: PythiaParams) -> ak.Array:
    """Anti-kT jets above ``jet_min_pt``, leading first, with τ1, τ2, τ3 (per event, jagged)."""
    import fastjet  # here: an optional dependency (genhep[pythia])

    vector.register_awkward()
    antikt = fastjet.JetDefinition(fastjet.antikt_algorithm, params.jet_r)
    sequence = fastjet.ClusterSequence(particles, antikt)
    jets = sequence.inclusive_jets(params.jet_min_pt)
    constituents = sequence.constituents(params.jet_min_pt)
    p4 = ak.zip({"px": jets.px, "py": jets.py, "pz": jets.pz, "E": jets.E}, with_name="Momentum4D")
    order = ak.argsort(p4.pt, ascending=False)[:, : params.max_jets]
    p4, constituents = p4[order], constituents[order]
    # N-subjettiness: each jet's constituents as an "event" of their own.
    per_jet = ak.flatten(constituents, axis=1)
    counts = ak.num(p4)
    taus = np.zeros((len(per_jet), 3))
    if len(per_jet):
        kt = fastjet.JetDefinition(fastjet.kt_algorithm, params.jet_r)
        tau = fastjet.ClusterSequence(per_jet, kt).njettiness(
            njets=[1, 2, 3], beta=1.0, R0=params.jet_r, axes_definition="OnePass_KT_Axes"
        )
        taus = ak.to_numpy(tau)  # (jets, 3): τ1, τ2, τ3
    fields_ = {
        "pt": ak.flatten(p4.pt),
        "eta": ak.flatten(p4.eta),
        "phi": ak.flatten(p4.phi),
        "mass": ak.flatten(p4.mass),
        "tau1": taus[:, 0],
        "tau2": taus[:, 1],
        "tau3": taus[:, 2],
    }
    return ak.unflatten(
        ak.zip({k: np.asarray(v, dtype=np.float32) for k, v in fields_.items()}), counts
    )


def write_shard(params: PythiaParams, shard: int, path: str | os.PathLike) -> dict[str, Any]:
    """Generate, cluster and write one shard to ROOT (the toy's schema), atomically."""
    info: dict[str, Any] = {}
    label = int(params.process == "signal")
    n_jets = 0
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.ZSTD(1)) as f:
        tree = None
        for particles in iter_particles(params, shard, info):
            jets = cluster_jets(particles, params)
            if tree is None:
                tree = f.mktree(
                    "events",
                    {"jet": jets.type.content, "label": np.int32},
                    title=f"genhep Pythia 8 {params.process} events (energies in GeV)",
                )
            tree.extend({"jet": jets, "label": np.full(len(jets), label, dtype=np.int32)})
            n_jets += int(ak.sum(ak.num(jets)))
        f["genhep_pythia_params"] = params.to_json()
    info["jets_per_event"] = n_jets / info["events"]
    return info
