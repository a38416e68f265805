import awkward as ak
import numpy as np
import pytest

from genhep.features import (
    FEATURE_BOUNDS,
    FEATURE_UNITS,
    LHCO_FEATURES,
    invariant_mass,
    leading_pair,
    lhco_features,
    select_jets,
    tau21,
)


def jets(**fields):
    return ak.zip({k: ak.Array(v) for k, v in fields.items()})


def mass_by_formula(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2):
    """m² = m1² + m2² + 2 (mT1 mT2 cosh Δy − pT1 pT2 cos Δφ), an independent formula."""

    def rapidity(pt, eta, m):
        pz, e = pt * np.sinh(eta), np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)
        return 0.5 * np.log((e + pz) / (e - pz))

    mt1, mt2 = np.hypot(pt1, m1), np.hypot(pt2, m2)
    dy = rapidity(pt1, eta1, m1) - rapidity(pt2, eta2, m2)
    return np.sqrt(m1**2 + m2**2 + 2 * (mt1 * mt2 * np.cosh(dy) - pt1 * pt2 * np.cos(phi1 - phi2)))


def test_mjj_of_back_to_back_massless_jets():
    j = jets(pt=[[1.0, 1.0]], eta=[[0.0, 0.0]], phi=[[0.0, np.pi]], mass=[[0.0, 0.0]])
    assert invariant_mass(j[:, 0], j[:, 1])[0] == pytest.approx(2.0, rel=1e-12)


def test_mjj_matches_an_independent_formula_to_1e9():
    rng = np.random.default_rng(3)
    n = 500
    pt1, pt2 = rng.uniform(0.5, 2.0, (2, n))
    eta1, eta2 = rng.uniform(-2.5, 2.5, (2, n))
    phi1, phi2 = rng.uniform(-np.pi, np.pi, (2, n))
    m1, m2 = rng.uniform(0.0, 0.5, (2, n))
    j1 = ak.zip({"pt": pt1, "eta": eta1, "phi": phi1, "mass": m1})
    j2 = ak.zip({"pt": pt2, "eta": eta2, "phi": phi2, "mass": m2})
    expected = mass_by_formula(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2)
    np.testing.assert_allclose(invariant_mass(j1, j2), expected, rtol=1e-9)


def test_tau21_is_guarded_against_zero_tau1():
    np.testing.assert_array_equal(tau21([0.5, 0.0, 0.2], [0.25, 0.0, 0.1]), [0.5, 0.0, 0.5])


def test_leading_jets_are_the_two_highest_pt_not_the_first_two():
    j = jets(
        pt=[[0.1, 1.2, 0.3, 1.0]],
        eta=[[0.0, 0.5, 0.0, -0.5]],
        phi=[[0.0, 0.0, 1.0, 3.0]],
        mass=[[0.01, 0.2, 0.02, 0.05]],
        tau1=[[1.0] * 4],
        tau2=[[0.5] * 4],
        tau3=[[0.2] * 4],
    )
    j1, j2, has_two = leading_pair(select_jets(j))
    assert has_two.tolist() == [True]
    assert (j1.pt[0], j2.pt[0]) == (1.2, 1.0)


def test_eta_cut_promotes_the_next_jet_and_single_jet_events_are_flagged():
    j = jets(
        pt=[[1.2, 1.0, 0.3], [1.0]],
        eta=[[0.5, 3.0, 0.0], [0.0]],
        phi=[[0, 0, 0], [0]],
        mass=[[0.1, 0.1, 0.1], [0.1]],
    )
    j1, j2, has_two = leading_pair(select_jets(j, max_abs_eta=2.5))
    assert has_two.tolist() == [True, False]
    assert (j1.pt[0], j2.pt[0]) == (1.2, 0.3)


def test_tau21_features_follow_jet_mass_not_tau21_value():
    # The lighter jet (first) has the *larger* tau21: tau21_min must still be its value.
    j = jets(
        pt=[[1.0, 1.0]],
        eta=[[0.0, 0.0]],
        phi=[[0.0, np.pi]],
        mass=[[0.1, 0.5]],
        tau1=[[0.4, 0.4]],
        tau2=[[0.32, 0.08]],
        tau3=[[0.1, 0.05]],
    )
    f = lhco_features(j[:, 0], j[:, 1])
    assert f["mj_min"][0] == pytest.approx(0.1)
    assert f["delta_mj"][0] == pytest.approx(0.4)
    assert f["tau21_min"][0] == pytest.approx(0.8)
    assert f["tau21_max"][0] == pytest.approx(0.2)


def test_every_lhco_feature_has_a_physical_range_that_its_values_respect():
    assert set(FEATURE_BOUNDS) == set(LHCO_FEATURES) == set(FEATURE_UNITS)
    for name, (lo, hi) in FEATURE_BOUNDS.items():
        # Masses (TeV) are ≥ 0 and open above; τ21 is a ratio in [0, 1].
        assert (lo, hi) == ((0.0, None) if FEATURE_UNITS[name] == "TeV" else (0.0, 1.0)), name
    # Edge cases land on the bounds, not beyond: a one-constituent jet (τ1 = τ2 = 0, massless)
    # beside a two-prong one, and two jets of equal mass.
    j = jets(
        pt=[[1.0, 1.0], [1.0, 1.0]],
        eta=[[0.0, 0.0], [0.0, 0.0]],
        phi=[[0.0, np.pi], [0.0, np.pi]],
        mass=[[0.0, 0.5], [0.2, 0.2]],
        tau1=[[0.0, 0.4], [0.4, 0.4]],
        tau2=[[0.0, 0.4], [0.1, 0.1]],
        tau3=[[0.0, 0.05], [0.05, 0.05]],
    )
    f = lhco_features(j[:, 0], j[:, 1])
    assert f["mj_min"].tolist()[0] == 0.0 and f["tau21_min"].tolist()[0] == 0.0
    assert f["tau21_max"].tolist()[0] == 1.0 and f["delta_mj"].tolist()[1] == 0.0
    for name, values in f.items():
        lo, hi = FEATURE_BOUNDS[name]
        assert (values >= lo).all() and (hi is None or (values <= hi).all()), name
