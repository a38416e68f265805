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
The settings, defaults included, are ``genhep.settings.data.PythiaSettings`` (the config's
``pythia`` section, with the job's process and shard).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import awkward as ak
import numpy as np
import uproot
import vector

from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path
from genhep.settings.base import as_config
from genhep.settings.data import PythiaSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

JET_FIELDS = ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")


def configuration(params: PythiaSettings) -> list[str]:
    """Pythia's configuration strings for the shard ``params.shard``."""
    common = [
        f"Beams:eCM = {params.sqrt_s}",
        "Random:setSeed = on",
        f"Random:seed = {params.seed + params.shard}",
        "Next:numberCount = 0",
        "Print:quiet = on",
    ]
    if params.process == "qcd":
        return common + ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {params.pthat_min}"]
    return common + [
        "Higgs:useBSM = on",
        "HiggsBSM:gg2H2 = on",
        f"35:m0 = {params.m_resonance}",
        f"36:m0 = {params.m_x}",
        f"25:m0 = {params.m_y}",
        # Narrow states (width 1% of the mass, forced: Pythia would compute wide
        # ones from the BSM couplings), and H within ±10% of its pole, where the
        # steep gluon luminosity would otherwise pile up Breit-Wigner tail events.
        *(f"{pdg}:doForceWidth = on" for pdg in (35, 36, 25)),
        f"35:mWidth = {0.01 * params.m_resonance}",
        f"36:mWidth = {0.01 * params.m_x}",
        f"25:mWidth = {0.01 * params.m_y}",
        f"35:mMin = {0.9 * params.m_resonance}",
        f"35:mMax = {1.1 * params.m_resonance}",
        # The resonance decays to X Y only, X and Y to light quarks. The process's
        # cross-section follows the BSM Higgs couplings and is meaningless here.
        "35:onMode = off",
        "35:addChannel = 1 1.0 100 36 25",
        "36:onMode = off",
        "36:onIfAny = 1 2 3",
        "25:onMode = off",
        "25:onIfAny = 1 2 3",
    ]


def params_json(params: PythiaSettings) -> str:
    """The settings a shard was made with, as the file records them: the config's keys
    and the process (the shard is in the file's name, and its seed is seed + shard)."""
    return json.dumps({**as_config(params), "process": params.process}, sort_keys=True)


def start_pythia(lines: list[str], what: str):
    """An initialized Pythia from its configuration ``lines``; ``what`` (e.g. "the qcd
    process") names it when initialization fails. The jets source starts its own with it."""
    try:
        import pythia8mc as pythia8  # here: an optional dependency (genhep[pythia])
    except ImportError as err:
        raise GenhepError(
            "source 'pythia' needs the pythia8mc and fastjet packages: pip install 'genhep[pythia]'"
        ) from err
    pythia = pythia8.Pythia("", False)  # no banner
    for line in lines:
        if not pythia.readString(line):
            raise GenhepError(f"pythia: setting {line!r} was rejected")
    if not pythia.init():
        raise GenhepError(f"pythia: initialization failed for {what}")
    return pythia


def _pythia(params: PythiaSettings):
    return start_pythia(configuration(params), f"the {params.process} process")


BLOCK_EVENTS = 1000  # events clustered and written at a time: bounds a shard's memory


def next_event(pythia, info: dict[str, Any], n_events: int) -> None:
    """Generate until Pythia gives an event (``pythia.event``), counting the failures in
    ``info["failed_events"]``; more than 10 + 10% of ``n_events`` is an error."""
    while not pythia.next():
        info["failed_events"] += 1
        if info["failed_events"] > 10 + n_events // 10:
            raise GenhepError(
                f"pythia: {info['failed_events']} events failed to generate; check the settings"
            )


def visible_particles(event, max_abs_eta: float) -> Iterator[Any]:
    """The event's visible final-state particles (no neutrinos) within |η| < max_abs_eta."""
    return (p for p in event if p.isFinal() and p.isVisible() and abs(p.eta()) < max_abs_eta)


def iter_particles(params: PythiaSettings, info: dict[str, Any]) -> Iterator[ak.Array]:
    """Visible final-state particles, (px, py, pz, E) in GeV, in blocks of BLOCK_EVENTS
    events; ``info`` is filled with the shard's facts as it goes."""
    pythia = _pythia(params)
    shard = params.shard
    info.update(process=params.process, shard=shard, seed=params.seed + shard, failed_events=0)
    done = 0
    while done < params.events:
        counts: list[int] = []
        px: list[float] = []
        py: list[float] = []
        pz: list[float] = []
        e: list[float] = []
        while len(counts) < min(BLOCK_EVENTS, params.events - done):
            next_event(pythia, info, params.events)
            n = 0
            for p in visible_particles(pythia.event, params.particle_max_abs_eta):
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


def cluster_jets(particles: ak.Array, params: PythiaSettings) -> ak.Array:
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


def write_shard(params: PythiaSettings, path: str | os.PathLike) -> dict[str, Any]:
    """Generate, cluster and write the shard ``params.shard`` to ROOT (the toy's schema),
    atomically."""
    info: dict[str, Any] = {}
    label = int(params.process == "signal")
    n_jets = 0
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.ZSTD(1)) as f:
        tree = None
        for particles in iter_particles(params, info):
            jets = cluster_jets(particles, params)
            if tree is None:
                tree = f.mktree(
                    "events",
                    {"jet": jets.type.content, "label": np.int32},
                    title=f"genhep Pythia 8 {params.process} events (energies in GeV)",
                )
            tree.extend({"jet": jets, "label": np.full(len(jets), label, dtype=np.int32)})
            n_jets += int(ak.sum(ak.num(jets)))
        f["genhep_pythia_params"] = params_json(params)
    info["jets_per_event"] = n_jets / info["events"]
    return info


def run(settings: PythiaSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The pythia_shard stage: shard ``settings.shard`` of ``settings.process`` to the ROOT
    file ``outputs.root``."""
    start = time.perf_counter()
    info = write_shard(settings, outputs.root)
    seconds = time.perf_counter() - start
    log.info(
        "%s shard %d (seed %d): %d events, %.2f jets/event above %.0f GeV, to %s in %.1f s "
        "(%.1f ms/event)",
        settings.process,
        settings.shard,
        info["seed"],
        info["events"],
        info["jets_per_event"],
        settings.jet_min_pt,
        outputs.root,
        seconds,
        1000 * seconds / info["events"],
    )
    return info


STAGE = Stage(
    "pythia_shard",
    run,
    PythiaSettings,
    outputs=("root",),
    description="Generate one shard of Pythia 8 events, cluster them with FastJet, write ROOT.",
)
