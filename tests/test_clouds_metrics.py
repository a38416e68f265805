"""JetNet's W1M and W1P on known answers (genhep.clouds.metrics)."""

import numpy as np
import pytest

from genhep.clouds.metrics import relative_mass, w1m, w1p

N = 6  # particles per cloud (two real, four padded)


def two_prong(masses, seed=0):
    """Clouds of two massless particles of pT_rel 1/2 at Δη = ±d/2, Δφ = 0, padded to N:
    m² = 2 p1 p2 (cosh Δη − 1) = (cosh d − 1) / 2, so d = arccosh(2 m² + 1) gives each
    cloud exactly the relative mass asked for. The padded slots are 0."""
    masses = np.asarray(masses, dtype=np.float64)
    d = np.arccosh(2 * masses**2 + 1)
    particles = np.zeros((len(masses), N, 3))
    particles[:, 0] = np.stack([d / 2, np.zeros_like(d), np.full_like(d, 0.5)], axis=1)
    particles[:, 1] = np.stack([-d / 2, np.zeros_like(d), np.full_like(d, 0.5)], axis=1)
    mask = np.zeros((len(masses), N), dtype=bool)
    mask[:, :2] = True
    return particles, mask


def test_relative_mass_is_the_two_prong_formula_and_ignores_order_and_padding():
    masses = np.linspace(0.05, 0.3, 7)
    particles, mask = two_prong(masses)
    np.testing.assert_allclose(relative_mass(particles, mask), masses, rtol=1e-9)
    # permuted particles (the mask follows them), and garbage in the padded slots
    order = np.array([3, 1, 5, 0, 2, 4])
    shuffled, shuffled_mask = particles[:, order].copy(), mask[:, order]
    shuffled[~shuffled_mask] = 7.0
    np.testing.assert_allclose(relative_mass(shuffled, shuffled_mask), masses, rtol=1e-9)


def test_w1m_of_identical_sets_is_zero_and_of_a_shifted_mass_is_the_shift():
    rng = np.random.default_rng(3)
    masses = rng.uniform(0.05, 0.25, 2000)
    real = two_prong(masses)
    assert w1m(real, real, num_eval_samples=2000, num_batches=2) == (0.0, 0.0)
    shifted = two_prong(masses + 0.01)
    mean, error = w1m(real, shifted, num_eval_samples=2000, num_batches=3)
    assert mean == pytest.approx(0.01, abs=1e-9) and error == pytest.approx(0.0, abs=1e-9)
    # subsets: JetNet's bootstrap gives an error, the same for the same seed
    a = w1m(real, shifted, num_eval_samples=500, num_batches=5, seed=1)
    assert a == w1m(real, shifted, num_eval_samples=500, num_batches=5, seed=1)
    assert a[1] > 0 and a[0] == pytest.approx(0.01, abs=0.01)


def test_w1p_sees_a_shift_of_one_particle_feature_only_and_skips_padding():
    rng = np.random.default_rng(5)
    real = two_prong(rng.uniform(0.05, 0.25, 1000))
    particles, mask = real[0].copy(), real[1]
    particles[..., 1][mask] += 0.02  # every real particle's Δφ
    got = w1p(real, (particles, mask), num_eval_samples=1000, num_batches=2)
    assert got["phirel"][0] == pytest.approx(0.02, abs=1e-9)
    assert got["etarel"][0] == pytest.approx(0.0, abs=1e-12)
    assert got["ptrel"][0] == pytest.approx(0.0, abs=1e-12)
    assert got["mean"][0] == pytest.approx(0.02 / 3, abs=1e-9)
    # padded slots count for nothing, whatever they hold
    garbage = particles.copy()
    garbage[~mask] = 9.0
    assert w1p(real, (garbage, mask), num_eval_samples=1000, num_batches=2) == got
