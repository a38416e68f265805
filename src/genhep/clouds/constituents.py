"""The jet rebuilt from its constituents: the four-momentum check of a particle cloud.

A cloud stores each constituent relative to its jet (Δη, Δφ, pT_rel), so the jet's own
(pt, η, mass) and its constituents must agree: summing the massless constituent
four-vectors gives the jet back. This is the physics check of a reader or of the jets
source (a sign slip in Δφ, GeV against TeV, a pT_rel taken against the wrong jet all
break it) and of generated clouds (how far their sum strays from the condition).

JetNet's convention puts the jet at φ = 0 (only Δφ is stored), so the rebuilt φ is
relative to the jet's unless ``jet_phi`` is given. The sum closes only when the cloud
holds every constituent: with the leading N of a larger jet it falls short of the jet by
what the cut-off particles carried.
"""

from __future__ import annotations

import numpy as np
import vector


def constituent_sum(
    particles: np.ndarray,
    mask: np.ndarray,
    jet_pt: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray | float = 0.0,
) -> dict[str, np.ndarray]:
    """(pt, eta, phi, mass) per jet of the sum of its real, massless constituents.

    ``particles``: (jets, N, 3) = (Δη, Δφ, pT_rel); ``mask``: (jets, N); the jet's pt (the
    unit of the result's pt and mass), eta and phi (0: JetNet's convention)."""
    mask = np.asarray(mask, dtype=bool)
    p = np.asarray(particles, dtype=np.float64)
    jet_pt = np.asarray(jet_pt, dtype=np.float64)[:, None]
    jet_eta = np.asarray(jet_eta, dtype=np.float64)[:, None]
    jet_phi = np.broadcast_to(np.asarray(jet_phi, dtype=np.float64), jet_pt.shape[:1])[:, None]
    momenta = vector.array(
        {
            "pt": np.where(mask, p[..., 2] * jet_pt, 0.0),
            "eta": np.where(mask, p[..., 0] + jet_eta, 0.0),
            "phi": np.where(mask, p[..., 1] + jet_phi, 0.0),
            "mass": np.zeros(mask.shape),
        }
    )
    # Cartesian sums (a padded slot has pt 0, so it adds nothing).
    px, py, pz, energy = (np.sum(getattr(momenta, c), axis=1) for c in ("px", "py", "pz", "E"))
    total = vector.array({"px": px, "py": py, "pz": pz, "E": energy})
    return {
        "pt": np.asarray(total.pt),
        "eta": np.asarray(total.eta),
        "phi": np.asarray(total.phi),
        "mass": np.asarray(total.mass),
    }


def sum_mismatch(
    particles: np.ndarray,
    mask: np.ndarray,
    jets: dict[str, np.ndarray],
    jet_phi: np.ndarray | float = 0.0,
) -> dict[str, np.ndarray]:
    """Per jet, how far the constituent sum lies from the jet: relative differences of pt
    and mass, and absolute differences of eta and phi (phi wrapped; against ``jet_phi``).
    The acceptance "constituents sum back to the jet within 1%" reads these."""
    total = constituent_sum(particles, mask, jets["pt"], jets["eta"], jet_phi)
    dphi = total["phi"] - np.asarray(jet_phi, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "pt": total["pt"] / jets["pt"] - 1.0,
            "mass": total["mass"] / jets["mass"] - 1.0,
            "eta": total["eta"] - jets["eta"],
            "phi": np.pi - np.mod(np.pi - dphi, 2 * np.pi),
        }
