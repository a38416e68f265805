"""An LHC Olympics-like toy: dijet events with known truth, fast enough to be the default.

Background (QCD dijets)
    mjj follows the standard dijet spectrum dN/dx ∝ (1 − x)^p1 / x^(p2 + p3 ln x),
    x = mjj / √s, above a threshold. Jet masses are a log-normal fraction of the jet pT,
    so the jet-mass scale grows with mjj: the correlation CATHODE must interpolate.
    τ21 is Beta-distributed with a mean that falls with m/pT (heavier QCD jets look a
    little more two-pronged).
Signal (a scalar resonance S → X Y → (qq)(qq))
    The LHCO R&D topology (there a W' of 3.5 TeV) with a spin-0 parent, as in the Pythia
    source: mjj is a narrow Gaussian at the resonance mass; the two jet masses are narrow
    peaks at m_X and m_Y; both jets are two-pronged (low τ21). A scalar decays
    isotropically: cos θ* is uniform in the dijet rest frame (within the acceptance).
    A spin-1 W' decaying to two scalars would instead give dN/dcos θ* ∝ sin²θ*.
Every event
    The two hard jets are built back to back in the dijet rest frame (exact two-body
    kinematics for the chosen jet masses) and boosted to the lab with a longitudinal
    rapidity and a small transverse recoil, so their invariant mass is exactly the sampled
    mjj. A Poisson number of softer extra jets is added, so picking the two leading jets
    is a real step of the ingestion. Jets carry pt, eta, phi, mass (TeV) and the
    N-subjettiness ratios' ingredients tau1, tau2, tau3.

All energies are in TeV here; the ROOT file stores GeV, as real ntuples do. The
generator's settings, defaults included, are ``genhep.settings.data.ToySettings`` (the
config's ``toy`` section).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

import awkward as ak
import numpy as np
import uproot

from genhep.io.atomic import atomic_path
from genhep.settings.base import as_config
from genhep.settings.data import ToyBackground, ToySettings
from genhep.stage import Files, Stage

log = logging.getLogger("genhep")

JET_FIELDS = ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")

# Events per generation chunk. It is part of the definition of the random stream (each
# chunk has its own seed), so it is a constant, not a setting.
CHUNK_EVENTS = 100_000


# ---------------------------------------------------------------------------------------
# Sampling pieces


def dijet_pdf(x: np.ndarray, p1: float, p2: float, p3: float) -> np.ndarray:
    """The standard dijet function, unnormalized: (1 − x)^p1 / x^(p2 + p3 ln x)."""
    return (1.0 - x) ** p1 / x ** (p2 + p3 * np.log(x))


class DijetSpectrum:
    """Inverse-CDF sampler of mjj from the dijet function on [mjj_min, mjj_max]."""

    def __init__(self, sqrt_s: float, bkg: ToyBackground, grid_points: int = 20_001):
        # A log-spaced grid resolves the steep fall; the CDF is integrated by trapezoids.
        self.mjj_grid = np.geomspace(bkg.mjj_min, bkg.mjj_max, grid_points)
        pdf = dijet_pdf(self.mjj_grid / sqrt_s, bkg.p1, bkg.p2, bkg.p3)
        cdf = np.concatenate(
            [[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(self.mjj_grid))]
        )
        self.cdf = cdf / cdf[-1]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.interp(rng.random(n), self.cdf, self.mjj_grid)


def _sample_cos_theta_t_channel(rng: np.random.Generator, n: int, c_max: float) -> np.ndarray:
    """cos θ* on [−c_max, c_max] with density ∝ 1/(1 − c)² + 1/(1 + c)².

    QCD dijets are dominated by t- and u-channel exchange, whose poles at c = ±1 make the
    scattering forward. The t-channel half is drawn by inversion (1/(1 − c) is uniform
    between its values at the ends), and a random sign adds the mirrored u-channel half.
    """
    a, b = 1.0 / (1.0 + c_max), 1.0 / (1.0 - c_max)
    c = 1.0 - 1.0 / (a + rng.random(n) * (b - a))
    return np.where(rng.random(n) < 0.5, c, -c)


def _beta_with_mean(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    mean = np.clip(mean, 0.02, 0.98)
    return rng.beta(mean * concentration, (1.0 - mean) * concentration)


def _taus(rng: np.random.Generator, tau21: np.ndarray, mass_over_pt: np.ndarray) -> tuple:
    """N-subjettiness values with the wanted τ21; τ1 tracks m/pT.

    τ32 enters no feature, so a cheap broad uniform stands in for its shape.
    """
    n = len(tau21)
    tau1 = mass_over_pt * rng.uniform(0.6, 1.4, n)
    tau2 = tau21 * tau1
    tau3 = rng.uniform(0.45, 0.95, n) * tau2
    return tau1, tau2, tau3


def _boost(E, px, py, pz, bx, by, bz):
    """Lorentz boost of four-vectors (E, p) by velocity b (all arrays)."""
    b2 = bx * bx + by * by + bz * bz
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = bx * px + by * py + bz * pz
    # (γ − 1)/b² written as γ²/(γ + 1), which stays finite for b → 0.
    coef = gamma * gamma / (gamma + 1.0) * bp + gamma * E
    return gamma * (E + bp), px + coef * bx, py + coef * by, pz + coef * bz


def dijet_kinematics(
    rng: np.random.Generator,
    mjj: np.ndarray,
    m1: np.ndarray,
    m2: np.ndarray,
    cos_theta: np.ndarray,
    rapidity_sigma: float,
    recoil_pt_scale: float,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Two jets of masses m1, m2 whose invariant mass is exactly mjj, boosted to the lab."""
    n = len(mjj)
    # Two-body decay momentum in the dijet rest frame.
    pstar = np.sqrt(np.maximum((mjj**2 - (m1 + m2) ** 2) * (mjj**2 - (m1 - m2) ** 2), 0.0)) / (
        2.0 * mjj
    )
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    phi_star = rng.uniform(-np.pi, np.pi, n)
    px = pstar * sin_theta * np.cos(phi_star)
    py = pstar * sin_theta * np.sin(phi_star)
    pz = pstar * cos_theta
    e1 = np.sqrt(pstar**2 + m1**2)
    e2 = np.sqrt(pstar**2 + m2**2)

    # The dijet system in the lab: rapidity y, small transverse recoil, mass mjj.
    y = rng.normal(0.0, rapidity_sigma, n)
    pt_sys = rng.exponential(recoil_pt_scale, n)
    phi_sys = rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(mjj**2 + pt_sys**2)
    e_sys = mt * np.cosh(y)
    bx = pt_sys * np.cos(phi_sys) / e_sys
    by = pt_sys * np.sin(phi_sys) / e_sys
    bz = mt * np.sinh(y) / e_sys

    jets = []
    for energy, sign, mass in ((e1, 1.0, m1), (e2, -1.0, m2)):
        _, jx, jy, jz = _boost(energy, sign * px, sign * py, sign * pz, bx, by, bz)
        pt = np.hypot(jx, jy)
        jets.append({"pt": pt, "eta": np.arcsinh(jz / pt), "phi": np.arctan2(jy, jx), "mass": mass})
    return jets[0], jets[1]


def _background_pair(rng, n, params: ToySettings, spectrum: DijetSpectrum):
    bkg = params.background
    mjj = spectrum.sample(rng, n)
    cos_theta = _sample_cos_theta_t_channel(rng, n, bkg.cos_theta_max)
    # Jet masses as a fraction of the (massless-approximation) jet pT: their scale grows
    # with mjj. Capped so the pair stays kinematically allowed.
    pt_approx = 0.5 * mjj * np.sqrt(1.0 - cos_theta**2)
    ratio = bkg.mass_over_pt_median * np.exp(rng.normal(0.0, bkg.mass_over_pt_width, (2, n)))
    ratio = np.minimum(ratio, 0.4)
    m1, m2 = ratio * pt_approx
    j1, j2 = dijet_kinematics(
        rng, mjj, m1, m2, cos_theta, params.rapidity_sigma, params.recoil_pt_scale
    )
    for jet, r in ((j1, ratio[0]), (j2, ratio[1])):
        tau21 = _beta_with_mean(
            rng, bkg.tau21_mean - bkg.tau21_mass_slope * r, bkg.tau21_concentration
        )
        jet["tau1"], jet["tau2"], jet["tau3"] = _taus(rng, tau21, r)
    return j1, j2


def _signal_pair(rng, n, params: ToySettings):
    sig = params.signal
    mjj = rng.normal(sig.mass, sig.mass_width, n)
    mjj = np.maximum(mjj, sig.m_x + sig.m_y + 0.05)
    mx = sig.m_x * (1.0 + sig.jet_mass_resolution * rng.standard_normal(n))
    my = sig.m_y * (1.0 + sig.jet_mass_resolution * rng.standard_normal(n))
    mx, my = np.abs(mx), np.abs(my)
    # A scalar resonance decays isotropically; the acceptance cut keeps jets central.
    c_max = params.background.cos_theta_max
    cos_theta = rng.uniform(-c_max, c_max, n)
    j1, j2 = dijet_kinematics(
        rng, mjj, mx, my, cos_theta, params.rapidity_sigma, params.recoil_pt_scale
    )
    for jet in (j1, j2):
        tau21 = _beta_with_mean(rng, np.full(n, sig.tau21_mean), sig.tau21_concentration)
        jet["tau1"], jet["tau2"], jet["tau3"] = _taus(rng, tau21, jet["mass"] / jet["pt"])
    return j1, j2


def _extra_jets(rng, subleading_pt: np.ndarray, params: ToySettings, bkg: ToyBackground):
    """Soft extra jets: Poisson count per event, pT below the two hard jets."""
    extra = params.extra_jets
    counts = rng.poisson(extra.mean_count, len(subleading_pt))
    total = int(counts.sum())
    cap = np.repeat(0.9 * subleading_pt, counts)
    pt = np.minimum(extra.pt_min + rng.exponential(extra.pt_scale, total), cap)
    ratio = np.minimum(
        bkg.mass_over_pt_median * np.exp(rng.normal(0, bkg.mass_over_pt_width, total)), 0.4
    )
    tau21 = _beta_with_mean(
        rng, bkg.tau21_mean - bkg.tau21_mass_slope * ratio, bkg.tau21_concentration
    )
    tau1, tau2, tau3 = _taus(rng, tau21, ratio)
    jets = {
        "pt": pt,
        "eta": rng.uniform(-extra.max_abs_eta, extra.max_abs_eta, total),
        "phi": rng.uniform(-np.pi, np.pi, total),
        "mass": ratio * pt,
        "tau1": tau1,
        "tau2": tau2,
        "tau3": tau3,
    }
    return counts, jets


def generate_chunk(
    params: ToySettings,
    chunk_index: int,
    n_events: int,
    n_signal: int,
    spectrum: DijetSpectrum | None = None,
) -> dict[str, Any]:
    """One chunk of events as flat arrays: jets (per-jet, TeV), counts and labels.

    Returns ``{"counts": (n,), "jets": {field: (n_jets,)}, "label": (n,), "mjj_true": (n,)}``.
    Each chunk draws from its own stream, seeded by (seed, chunk_index).
    """
    rng = np.random.default_rng([params.seed, chunk_index])
    spectrum = spectrum or DijetSpectrum(params.sqrt_s, params.background)
    n_bkg = n_events - n_signal
    b1, b2 = _background_pair(rng, n_bkg, params, spectrum)
    s1, s2 = _signal_pair(rng, n_signal, params)
    order = rng.permutation(n_events)
    label = np.concatenate([np.zeros(n_bkg, np.int32), np.ones(n_signal, np.int32)])[order]
    first = {k: np.concatenate([b1[k], s1[k]])[order] for k in JET_FIELDS}
    second = {k: np.concatenate([b2[k], s2[k]])[order] for k in JET_FIELDS}
    # Store the harder of the two first, as ntuples do.
    swap = second["pt"] > first["pt"]
    lead = {k: np.where(swap, second[k], first[k]) for k in JET_FIELDS}
    sublead = {k: np.where(swap, first[k], second[k]) for k in JET_FIELDS}

    n_extra, extras = _extra_jets(rng, sublead["pt"], params, params.background)
    counts = 2 + n_extra
    offsets = np.concatenate([[0], np.cumsum(counts)])
    is_extra = np.ones(int(offsets[-1]), dtype=bool)
    is_extra[offsets[:-1]] = False
    is_extra[offsets[:-1] + 1] = False
    jets = {}
    for k in JET_FIELDS:
        flat = np.empty(int(offsets[-1]))
        flat[offsets[:-1]] = lead[k]
        flat[offsets[:-1] + 1] = sublead[k]
        flat[is_extra] = extras[k]
        jets[k] = flat
    return {"counts": counts, "jets": jets, "label": label}


def iter_chunks(params: ToySettings) -> Iterator[dict[str, Any]]:
    """All events in chunks of CHUNK_EVENTS; the signal count is exact over the whole run."""
    spectrum = DijetSpectrum(params.sqrt_s, params.background)
    n_chunks = math.ceil(params.n_events / CHUNK_EVENTS)
    for i in range(n_chunks):
        start = i * CHUNK_EVENTS
        stop = min(params.n_events, start + CHUNK_EVENTS)
        # Signal events are spread over chunks in proportion to their size, exactly.
        n_sig = round(params.n_signal * stop / params.n_events) - round(
            params.n_signal * start / params.n_events
        )
        yield generate_chunk(params, i, stop - start, n_sig, spectrum)


def chunk_to_awkward(chunk: Mapping[str, Any], energy_scale: float = 1.0) -> dict[str, ak.Array]:
    """Jagged jets as one awkward record array; energies multiplied by ``energy_scale``."""
    content = {}
    for k in JET_FIELDS:
        values = chunk["jets"][k]
        if k in ("pt", "mass"):
            values = values * energy_scale
        content[k] = ak.unflatten(values.astype(np.float32), chunk["counts"])
    return {"jet": ak.zip(content), "label": chunk["label"]}


def write_root(params: ToySettings, path: str | os.PathLike, tree_name: str = "events") -> dict:
    """Write the toy events to a ROOT TTree (GeV), atomically. Returns counts written."""
    n_written = n_signal = 0
    # ZSTD level 1: ~10x faster to write than uproot's default ZLIB for ~7% more bytes,
    # and read by ROOT >= 6.20.
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.ZSTD(1)) as f:
        tree = None
        for chunk in iter_chunks(params):
            arrays = chunk_to_awkward(chunk, energy_scale=1000.0)  # TeV -> GeV
            if tree is None:
                # mktree + extend writes a TTree (assigning a dict would write an RNTuple).
                tree = f.mktree(
                    tree_name,
                    {"jet": arrays["jet"].type.content, "label": np.int32},
                    title="genhep LHCO-like toy events (energies in GeV)",
                )
            tree.extend(arrays)
            n_written += len(chunk["label"])
            n_signal += int(chunk["label"].sum())
        f["genhep_toy_params"] = json.dumps(as_config(params), sort_keys=True)
    return {"events": n_written, "signal": n_signal}


def run(settings: ToySettings, inputs: Files, outputs: Files) -> dict:
    """The generate_toy stage: the toy's events to the ROOT file ``outputs.root``."""
    start = time.perf_counter()
    counts = write_root(settings, outputs.root)
    seconds = time.perf_counter() - start
    log.info(
        "wrote %d events (%d signal) to %s in %.1f s (%.0f events/s including ROOT writing)",
        counts["events"],
        counts["signal"],
        outputs.root,
        seconds,
        counts["events"] / seconds,
    )
    return counts


STAGE = Stage(
    "generate_toy",
    run,
    ToySettings,
    outputs=("root",),
    description="Generate the LHCO-like toy events and write them to a ROOT TTree.",
)
