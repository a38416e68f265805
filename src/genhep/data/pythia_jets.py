"""Jets as particle clouds from Pythia 8 and FastJet, JetNet's way: one class and one
shard per job.

Each class comes from the hard processes that make it (√s = 13 TeV, pTHat above
``pthat_min``; showers, multi-parton interactions and hadronization at Pythia's defaults):

* ``g``: ``HardQCD:gg2gg``, ``HardQCD:qqbar2gg``;
* ``q``: ``HardQCD:qq2qq``, ``HardQCD:qqbar2qqbarNew``, ``HardQCD:gg2qqbar`` with the new
  flavours u, d, s (``HardQCD:nQuarkNew = 3``); ``qq2qq`` also scatters c and b quarks of
  the proton, whose jets the matching (light quarks only) drops;
* ``t``: ``Top:gg2ttbar``, ``Top:qqbar2ttbar``, W → quarks only (all-hadronic tt̄);
* ``w``: ``WeakBosonAndParton:qqbar2Wg``, ``qg2Wq``, W → quarks only;
* ``z``: ``WeakBosonAndParton:qqbar2gmZg``, ``qg2gmZq``, pure Z (``WeakZ0:gmZmode = 2``),
  Z → quarks only.

Per event, every visible final-state particle within ``particle_max_abs_eta`` is taken
massless (E = |p|; setting ``massless``) and clustered with anti-kT, R = ``jet_r``. A cloud
holds no particle masses: only so does a jet equal the sum of its cloud (with the hadron
masses kept, the jet mass lies typically 5-10% above it, up to a third for light jets). Of
the ``max_jets`` leading jets, those in the pT window [``jet_pt_min``, ``jet_pt_max``]
GeV, within |η| < ``jet_max_abs_eta``, and within ΔR < ``match_r`` (η, φ) of a
hard-process parton of the class are kept: an outgoing gluon (``g``) or light quark
(``q``) of the hard scattering, or the top, W or Z itself, its last copy before it decays
(``t``, ``w``, ``z``). That is how JetNet labels its jets.

A kept jet is written with ALL its constituents, relative to the jet (Δη = η − η_jet, Δφ
wrapped into (−π, π], pT_rel = pT / pT_jet), hardest first; the leading-N cut is the
reader's (genhep.clouds.root, the ``genhep`` preset). TTree ``jets``, one entry per jet:
``jet_pt, jet_eta, jet_phi, jet_mass`` (GeV; the E-scheme sum of the constituents),
``jet_class`` (index into JETNET_CLASSES), ``jet_num_particles`` (the constituent count,
the jagged branches' counter), ``part_etarel, part_phirel, part_ptrel``; the settings as
JSON in ``genhep_pythia_jets_params``.

Shard k of the class at index i of (g, q, t, w, z) seeds Pythia with ``seed + k +
1000000 i`` (``PythiaJetsSettings.pythia_seed``): shards and classes independent and
reproducible.
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

from genhep.clouds import JETNET_CLASSES, wrap_phi
from genhep.data.pythia import BLOCK_EVENTS, next_event, start_pythia, visible_particles
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path
from genhep.settings.base import as_config
from genhep.settings.pythia_jets import PythiaJetsSettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

# W and Z decay to quarks only (d, u, s, c, b).
_W_HADRONIC = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_Z_HADRONIC = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")
CLASS_PROCESSES: dict[str, tuple[str, ...]] = {
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "q": (
        "HardQCD:qq2qq = on",
        "HardQCD:qqbar2qqbarNew = on",
        "HardQCD:gg2qqbar = on",
        "HardQCD:nQuarkNew = 3",
    ),
    "t": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_W_HADRONIC),
    "w": (
        "WeakBosonAndParton:qqbar2Wg = on",
        "WeakBosonAndParton:qg2Wq = on",
        *_W_HADRONIC,
    ),
    "z": (
        "WeakBosonAndParton:qqbar2gmZg = on",
        "WeakBosonAndParton:qg2gmZq = on",
        "WeakZ0:gmZmode = 2",
        *_Z_HADRONIC,
    ),
}
# What a jet of each class is matched to: outgoing hard-scattering partons (status ±23)
# of these |PDG ids|, or the last copy of a decaying resonance.
PARTONS = {"g": (21,), "q": (1, 2, 3)}
RESONANCES = {"t": 6, "w": 24, "z": 23}
# Events after which a shard without any jet in the window is given up.
MAX_EMPTY_EVENTS = 2000
PARAMS_KEY = "genhep_pythia_jets_params"
JET = ("pt", "eta", "phi", "mass")
PART_TYPE = "var * {etarel: float32, phirel: float32, ptrel: float32}"


def configuration(params: PythiaJetsSettings) -> list[str]:
    """Pythia's configuration strings for ``params.jet_class``, shard ``params.shard``."""
    return [
        f"Beams:eCM = {params.sqrt_s}",
        "Random:setSeed = on",
        f"Random:seed = {params.pythia_seed}",
        "Next:numberCount = 0",
        "Print:quiet = on",
        f"PhaseSpace:pTHatMin = {params.pthat}",
        *CLASS_PROCESSES[params.jet_class],
    ]


def params_json(params: PythiaJetsSettings) -> str:
    """The settings a shard was made with, as the file records them: the config's keys,
    the class, the shard, and what they resolve to (Pythia's seed and pTHatMin)."""
    record = {
        **as_config(params),
        "jet_class": params.jet_class,
        "shard": params.shard,
        "pythia_seed": params.pythia_seed,
        "pthat_min_used": params.pthat,
        "match_r_used": params.match_radius,
    }
    return json.dumps(record, sort_keys=True)


def _pythia(params: PythiaJetsSettings):
    """An initialized Pythia for the shard; fastjet is checked here too, before any event
    is generated."""
    try:
        import fastjet  # noqa: F401  (an optional dependency: genhep[pythia])
    except ImportError as err:
        raise GenhepError(
            "source 'pythia' needs the pythia8mc and fastjet packages: pip install 'genhep[pythia]'"
        ) from err
    return start_pythia(configuration(params), f"the {params.jet_class} jet class")


def _targets(pythia, jet_class: str) -> list[tuple[float, float]]:
    """(η, φ) of the event's hard-process partons of the class (the module docstring),
    found in the short process record; a resonance's last copy in the event record has
    the index the process record's copy has there (Pythia copies it first)."""
    out = []
    for p in pythia.process:
        if jet_class in PARTONS:
            if p.statusAbs() == 23 and p.idAbs() in PARTONS[jet_class]:
                out.append((p.eta(), p.phi()))
        elif p.idAbs() == RESONANCES[jet_class]:
            last = pythia.event[pythia.event[p.index()].iBotCopyId()]
            out.append((last.eta(), last.phi()))
    return out


def iter_events(params: PythiaJetsSettings, info: dict[str, Any]) -> Iterator[tuple]:
    """(particles, targets) in blocks of BLOCK_EVENTS events: visible final-state
    particles (px, py, pz, E in GeV) and the class's partons (η, φ), jagged per event;
    ``info`` is filled with the shard's facts as it goes."""
    pythia = _pythia(params)
    info.update(failed_events=0)
    done = 0
    while done < params.events:
        counts, n_targets = [], []
        cols: list[list[float]] = [[], [], [], []]
        target_eta, target_phi = [], []
        while len(counts) < min(BLOCK_EVENTS, params.events - done):
            next_event(pythia, info, params.events)
            n = 0
            for p in visible_particles(pythia.event, params.particle_max_abs_eta):
                cols[0].append(p.px())
                cols[1].append(p.py())
                cols[2].append(p.pz())
                cols[3].append(p.pAbs() if params.massless else p.e())
                n += 1
            counts.append(n)
            found = _targets(pythia, params.jet_class)
            n_targets.append(len(found))
            target_eta += [t[0] for t in found]
            target_phi += [t[1] for t in found]
        done += len(counts)
        particles = ak.unflatten(
            ak.zip(dict(zip(("px", "py", "pz", "E"), map(np.array, cols), strict=True))),
            np.array(counts),
        )
        targets = ak.unflatten(
            ak.zip({"eta": np.array(target_eta, float), "phi": np.array(target_phi, float)}),
            np.array(n_targets, dtype=np.int64),
        )
        info["events"] = done
        yield particles, targets
    info["sigma_pb"] = pythia.infoPython().sigmaGen() * 1e9  # mb -> pb


def select_jets(particles: ak.Array, targets: ak.Array, params: PythiaJetsSettings) -> ak.Array:
    """The kept jets of a block, flat over events: per jet (pt, eta, phi, mass) and its
    constituents ``part`` (etarel, phirel, ptrel), hardest first (float32)."""
    import fastjet  # here: an optional dependency (genhep[pythia])

    antikt = fastjet.JetDefinition(fastjet.antikt_algorithm, params.jet_r)
    sequence = fastjet.ClusterSequence(particles, antikt)
    jets = sequence.inclusive_jets(params.jet_pt_min)
    constituents = sequence.constituents(params.jet_pt_min)
    pt, eta, phi, mass = _kinematics(jets.px, jets.py, jets.pz, jets.E)
    order = ak.argsort(pt, axis=1, ascending=False)[:, : params.max_jets]
    pt, eta, phi, mass, constituents = (a[order] for a in (pt, eta, phi, mass, constituents))
    # ΔR to the nearest parton of the class (none: infinite).
    pairs = ak.cartesian({"jet": ak.zip({"eta": eta, "phi": phi}), "t": targets}, nested=True)
    dphi = np.pi - np.mod(np.pi - (pairs.jet.phi - pairs.t.phi), 2 * np.pi)  # wrap_phi's
    dr2 = (pairs.jet.eta - pairs.t.eta) ** 2 + dphi**2
    nearest = ak.fill_none(ak.min(dr2, axis=2), np.inf)
    keep = (
        (pt <= params.jet_pt_max)
        & (abs(eta) < params.jet_max_abs_eta)
        & (nearest < params.match_radius**2)
    )
    pt, eta, phi, mass, constituents = (
        ak.flatten(a[keep], axis=1) for a in (pt, eta, phi, mass, constituents)
    )
    c_pt, c_eta, c_phi, _ = _kinematics(
        constituents.px, constituents.py, constituents.pz, constituents.E
    )
    part = ak.zip({"etarel": c_eta - eta, "phirel": _wrapped(c_phi - phi), "ptrel": c_pt / pt})
    part = part[ak.argsort(part.ptrel, axis=1, ascending=False, stable=True)]
    part = ak.zip({k: ak.values_astype(part[k], np.float32) for k in part.fields})
    jet = {
        k: ak.values_astype(v, np.float32) for k, v in zip(JET, (pt, eta, phi, mass), strict=True)
    }
    return ak.zip({**jet, "part": part}, depth_limit=1)


def _kinematics(px, py, pz, e) -> tuple:
    """(pt, η, φ, mass) of jagged four-momenta (GeV), in float64 (numpy's ufuncs, which
    awkward applies to the values)."""
    px, py, pz, e = (ak.values_astype(a, np.float64) for a in (px, py, pz, e))
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    mass = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))
    return pt, eta, phi, mass


def _wrapped(dphi: ak.Array) -> ak.Array:
    """Δφ per jet and constituent wrapped into (−π, π] (``genhep.clouds.wrap_phi``)."""
    flat = wrap_phi(ak.to_numpy(ak.flatten(dphi)))
    return ak.unflatten(flat, ak.num(dphi))


def write_shard(params: PythiaJetsSettings, path: str | os.PathLike) -> dict[str, Any]:
    """Generate, cluster, select and write the shard to ROOT (the ``genhep`` cloud preset),
    a block of events at a time, atomically."""
    info: dict[str, Any] = {
        "jet_class": params.jet_class,
        "shard": params.shard,
        "seed": params.pythia_seed,
        "jets": 0,
    }
    label = JETNET_CLASSES.index(params.jet_class)
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.ZSTD(1)) as f:
        tree = f.mktree(
            "jets",
            {**{f"jet_{k}": np.float32 for k in JET}, "jet_class": np.int32, "part": PART_TYPE},
            counter_name=lambda _: "jet_num_particles",
            title=f"genhep Pythia 8 {params.jet_class} jets as particle clouds (GeV)",
        )
        for particles, targets in iter_events(params, info):
            jets = select_jets(particles, targets, params)
            if len(jets):
                branches = {f"jet_{k}": jets[k] for k in JET}
                tree.extend(
                    {
                        **branches,
                        "jet_class": np.full(len(jets), label, dtype=np.int32),
                        "part": jets.part,
                    }
                )
            info["jets"] += len(jets)
            if not info["jets"] and info["events"] >= min(params.events, MAX_EMPTY_EVENTS):
                raise GenhepError(
                    f"{params.KEY}: no {params.jet_class} jet in the window "
                    f"jets.pythia.jet_pt_min = {params.jet_pt_min:g} to jets.pythia.jet_pt_max"
                    f" = {params.jet_pt_max:g} GeV (|η| < {params.jet_max_abs_eta:g}, matched"
                    f" within ΔR {params.match_radius:g}) after {info['events']} events; "
                    "widen the window or move pthat_min toward it"
                )
        f[PARAMS_KEY] = params_json(params)
    info["acceptance"] = info["jets"] / info["events"]
    return info


def run(settings: PythiaJetsSettings, inputs: Files, outputs: Files) -> dict[str, Any]:
    """The pythia_jets stage: shard ``settings.shard`` of class ``settings.jet_class`` to the
    ROOT file ``outputs.root``."""
    start = time.perf_counter()
    info = write_shard(settings, outputs.root)
    info["seconds"] = seconds = time.perf_counter() - start
    info["jets_per_second"] = info["jets"] / seconds
    info["events_per_second"] = info["events"] / seconds
    log.info(
        "%s jets, shard %d (seed %d): %d jets of %d events (%.3f per event) in %.0f-%.0f GeV,"
        " to %s in %.1f s (%.1f events/s, %.1f jets/s)",
        settings.jet_class,
        settings.shard,
        info["seed"],
        info["jets"],
        info["events"],
        info["acceptance"],
        settings.jet_pt_min,
        settings.jet_pt_max,
        outputs.root,
        seconds,
        info["events_per_second"],
        info["jets_per_second"],
    )
    return info


STAGE = Stage(
    "pythia_jets",
    run,
    PythiaJetsSettings,
    inputs=(),
    outputs=("root",),
    description="Generate one shard of Pythia 8 jets of one class (g, q, t, w, z) as particle "
    "clouds, write ROOT.",
)
