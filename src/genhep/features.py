"""From jets to event features: the two leading large-radius jets and the LHCO feature set.

Features (energies in TeV):
    mjj        invariant mass of the two leading jets
    mj_min     mass of the lighter of the two
    delta_mj   mj_max − mj_min
    tau21_min  τ21 = τ2/τ1 of the lighter jet
    tau21_max  τ21 of the heavier jet
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

LHCO_FEATURES = ("mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max")
KINEMATIC_FEATURES = LHCO_FEATURES[:3]  # what jets without N-subjettiness give
FEATURE_UNITS = {"mjj": "TeV", "mj_min": "TeV", "delta_mj": "TeV", "tau21_min": "", "tau21_max": ""}
# The physical range [lo, hi] of each feature (None: open): masses are never negative, and
# τ21 = τ2/τ1 lies in [0, 1] (0 for a one-constituent jet). The preprocessing's min-max
# step keeps its bounds inside these, so generated events cannot leave them
# (genhep.preprocess); the evaluation counts any that do (genhep.evaluate).
FEATURE_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "mjj": (0.0, None),
    "mj_min": (0.0, None),
    "delta_mj": (0.0, None),
    "tau21_min": (0.0, 1.0),
    "tau21_max": (0.0, 1.0),
}


def select_jets(jets: ak.Array, min_pt: float = 0.0, max_abs_eta: float | None = None) -> ak.Array:
    """Jets passing the per-jet cuts, sorted by pT, highest first (per event)."""
    keep = jets.pt >= min_pt
    if max_abs_eta is not None:
        keep = keep & (abs(jets.eta) <= max_abs_eta)
    jets = jets[keep]
    return jets[ak.argsort(jets.pt, axis=1, ascending=False)]


def leading_pair(jets: ak.Array) -> tuple[ak.Array, ak.Array, np.ndarray]:
    """The two leading jets of events that have at least two; and the mask of those events."""
    has_two = ak.to_numpy(ak.num(jets, axis=1) >= 2)
    pairs = jets[has_two]
    return pairs[:, 0], pairs[:, 1], has_two


def invariant_mass(j1: ak.Array, j2: ak.Array) -> np.ndarray:
    """m(j1 + j2) from (pt, eta, phi, mass) with the vector library, in float64."""
    p1, p2 = (
        vector.array(
            {k: ak.to_numpy(j[k]).astype(np.float64) for k in ("pt", "eta", "phi", "mass")}
        )
        for j in (j1, j2)
    )
    return np.asarray((p1 + p2).mass)


def tau21(tau1: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    """τ2/τ1, with 0 where τ1 = 0 (a jet with a single constituent has τ1 = τ2 = 0)."""
    tau1 = np.asarray(tau1, dtype=np.float64)
    tau2 = np.asarray(tau2, dtype=np.float64)
    out = np.zeros_like(tau1)
    np.divide(tau2, tau1, out=out, where=tau1 > 0)
    return out


def lhco_features(j1: ak.Array, j2: ak.Array) -> dict[str, np.ndarray]:
    """The LHCO feature set from the two leading jets (no event is dropped here); only the
    kinematic features when the jets carry no τ1, τ2."""
    m1 = ak.to_numpy(j1.mass).astype(np.float64)
    m2 = ak.to_numpy(j2.mass).astype(np.float64)
    first_lighter = m1 <= m2
    features = {
        "mjj": invariant_mass(j1, j2),
        "mj_min": np.where(first_lighter, m1, m2),
        "delta_mj": np.abs(m1 - m2),
    }
    if "tau1" in ak.fields(j1):
        t1 = tau21(ak.to_numpy(j1.tau1), ak.to_numpy(j1.tau2))
        t2 = tau21(ak.to_numpy(j2.tau1), ak.to_numpy(j2.tau2))
        features["tau21_min"] = np.where(first_lighter, t1, t2)
        features["tau21_max"] = np.where(first_lighter, t2, t1)
    return features
