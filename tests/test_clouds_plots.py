"""Plots of generated clouds against the truth (genhep.clouds.plots) on toy two-prong jets."""

import tracemalloc
import warnings

import numpy as np
import pytest

from genhep.clouds import JETNET_CLASSES, Clouds, plots, sort_by_pt
from genhep.clouds.constituents import constituent_sum
from genhep.clouds.metrics import relative_mass
from genhep.clouds.plots import (
    FIGURES,
    _comparison_figure,
    _jet_observables,
    _jet_panels,
    _particle_panels,
    average_image,
    image_edges,
    plot_cloud_comparison,
    plot_jet_image,
    ratio,
)


def toy_jets(n, n_particles=30, seed=0, most=None, fewest=8):
    """Two-prong-like clouds: per jet, two prongs at ±d/2 along a random direction, each
    particle Gaussian around one of them, pT_rel exponential and normalised to 1 over the
    real particles (complete jets); sorted by pT_rel, padding 0, valid per Clouds."""
    rng = np.random.default_rng(seed)
    most = n_particles if most is None else most
    counts = rng.integers(fewest, most + 1, n)
    mask = np.arange(n_particles) < counts[:, None]
    d, angle = rng.uniform(0.1, 0.4, n), rng.uniform(0, 2 * np.pi, n)
    side = np.where(rng.random((n, n_particles)) < 0.5, 0.5, -0.5)[..., None]
    axis = np.stack([d * np.cos(angle), d * np.sin(angle)], axis=-1)[:, None, :]
    position = side * axis + rng.normal(0, 0.04, (n, n_particles, 2))
    weight = np.where(mask, rng.exponential(1.0, (n, n_particles)), 0.0)
    pt_rel = weight / weight.sum(axis=1, keepdims=True)
    particles = np.concatenate([position, pt_rel[..., None]], axis=-1).astype(np.float32)
    particles, mask = sort_by_pt(np.where(mask[..., None], particles, 0), mask)
    jet_pt = rng.uniform(0.9, 1.1, n)
    jets = {
        "pt": jet_pt,
        "eta": rng.uniform(-2, 2, n),
        "mass": relative_mass(particles, mask) * jet_pt,
        "num_particles": mask.sum(axis=1).astype(np.float64),
    }
    return Clouds(particles, mask, jets, np.full(n, JETNET_CLASSES.index("g")))


def shifted(clouds, deta=0.0, dphi=0.0):
    """The clouds with every real particle moved by (deta, dphi); padding stays 0."""
    p = clouds.particles.copy()
    p[..., 0] += np.float32(deta) * clouds.mask
    p[..., 1] += np.float32(dphi) * clouds.mask
    return Clouds(p, clouds.mask, dict(clouds.jets), clouds.label)


def test_every_figure_is_written_and_non_empty(tmp_path):
    truth, generated = toy_jets(2000, seed=1), toy_jets(1500, seed=2)
    rng = np.random.default_rng(3)
    efps = rng.lognormal(-3, 1, (2000, 5)), rng.lognormal(-3, 1.1, (1500, 5))
    paths = plot_cloud_comparison(truth, generated, tmp_path, "EPiC-FM", "g", efps, (1, 2))
    assert paths == [tmp_path / f"{stem}.png" for stem in FIGURES]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporaries
    with pytest.raises(ValueError, match="EFP column 7"):
        plot_cloud_comparison(truth, generated, tmp_path, "GAN", "g", efps, (0, 7))


def test_jet_mass_is_the_constituent_mass_in_gev_and_the_multiplicity_counts_the_mask():
    clouds = toy_jets(300, seed=4)
    got = _jet_observables(clouds, in_gev=True)
    expected = relative_mass(clouds.particles, clouds.mask) * clouds.jets["pt"] * 1000
    np.testing.assert_allclose(got["mass"], expected, rtol=1e-12)
    np.testing.assert_allclose(got["mass"], clouds.jets["mass"] * 1000, rtol=1e-9)
    jets = clouds.jets
    summed = constituent_sum(clouds.particles, clouds.mask, jets["pt"] * 1000, jets["eta"])
    np.testing.assert_allclose(got["pt"], summed["pt"], rtol=1e-9)
    np.testing.assert_array_equal(got["multiplicity"], clouds.mask.sum(axis=1))


@pytest.mark.parametrize(
    "n_particles, most", [(10, 10), (30, 19)], ids=["N below 20", "no jet with 20"]
)
def test_the_20th_particle_panel_is_skipped_when_no_truth_jet_has_20(tmp_path, n_particles, most):
    truth = toy_jets(500, n_particles=n_particles, seed=5, most=most, fewest=5)
    generated = toy_jets(400, n_particles=n_particles, seed=6, most=most, fewest=5)
    labels = [p.xlabel for p in _particle_panels(truth, generated, bins=20)]
    assert len(labels) == 4 and "1st" in labels[0] and "5th" in labels[1]
    assert not any("20th" in label for label in labels)
    if n_particles < 20:  # the whole set of figures (drawn once: drawing takes the time)
        # without EFPs, the EFP figure is left out; a prefix names the files
        paths = plot_cloud_comparison(truth, generated, tmp_path, "CFM", "q", prefix="cfm_")
        assert [p.name for p in paths] == [f"cfm_{s}.png" for s in FIGURES if s != "efps"]
        assert all(p.stat().st_size > 0 for p in paths)


def test_the_average_image_integrates_to_the_mean_pt_sum_per_jet():
    clouds = toy_jets(3000, seed=7)
    edges = image_edges(clouds, bins=25)  # reaches the 99.5 % quantile: edge bins catch the rest
    assert average_image(clouds, edges).sum() == pytest.approx(1.0, abs=1e-6)
    # incomplete jets (the leading 10 of up to 30 kept): the mean sum of their pT_rel
    cut = Clouds(
        np.ascontiguousarray(clouds.particles[:, :10]),
        np.ascontiguousarray(clouds.mask[:, :10]),
        dict(clouds.jets),
    )
    mean_sum = cut.particles[..., 2].astype(np.float64).sum(axis=1).mean()
    assert mean_sum < 0.99
    assert average_image(cut, edges).sum() == pytest.approx(mean_sum, abs=1e-6)


def _centroid(image, edges):
    centers = [0.5 * (e[1:] + e[:-1]) for e in edges]
    return image.sum(axis=1) @ centers[0] / image.sum(), image.sum(axis=0) @ centers[
        1
    ] / image.sum()


def test_a_delta_eta_shift_moves_the_image_centroid_by_the_shift():
    truth = toy_jets(3000, seed=8)
    edges = np.linspace(-1, 1, 41), np.linspace(-1, 1, 41)
    width = edges[0][1] - edges[0][0]
    eta0, phi0 = _centroid(average_image(truth, edges), edges)
    eta1, phi1 = _centroid(average_image(shifted(truth, deta=0.2), edges), edges)
    assert eta1 - eta0 == pytest.approx(0.2, abs=width) and phi1 == pytest.approx(phi0, abs=width)
    # with the bins the plots take (from the truth), within a bin as well
    edges = image_edges(truth, bins=32)
    width = edges[0][1] - edges[0][0]
    eta0, _ = _centroid(average_image(truth, edges), edges)
    eta1, _ = _centroid(average_image(shifted(truth, deta=0.05), edges), edges)
    assert eta1 - eta0 == pytest.approx(0.05, abs=width)


def test_ratio_and_plots_handle_empty_bins_without_warnings(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ratio(np.array([1.0, 0.0, 2.0, 0.0]), np.array([0.0, 0.0, 4.0, 1.0]))
        np.testing.assert_array_equal(got, [np.nan, np.nan, 0.5, 0.0])
        truth = toy_jets(800, seed=9)
        # generated far off (most truth bins empty in it), and a set with no jets at all
        far = shifted(toy_jets(600, seed=10, most=12), deta=3.0, dphi=-3.0)
        empty = truth.take(slice(0, 0))
        for name, generated in (("far", far), ("empty", empty)):
            jet, particle = (f(truth, generated, 20) for f in (_jet_panels, _particle_panels))
            for panel in jet + particle:
                assert panel.truth[0].sum() > 0 and np.all(np.isfinite(panel.generated[0]))
            if name == "far":  # every generated particle in an edge bin
                path = _comparison_figure(particle, tmp_path / "p.png", "title", name)
            else:  # nothing generated at all
                path = _comparison_figure(jet, tmp_path / "j.png", "title", name)
                assert plot_jet_image(truth, generated, tmp_path / "i.png", "t", name) is not None
            assert path.stat().st_size > 0


def test_chunks_bound_the_memory_and_change_no_result(monkeypatch):
    truth, generated = toy_jets(4000, seed=11), toy_jets(3000, seed=12)
    edges = image_edges(truth)

    def everything():
        panels = _jet_panels(truth, generated, 30) + _particle_panels(truth, generated, 30)
        return panels, average_image(generated, edges)

    whole_panels, whole_image = everything()
    monkeypatch.setattr(plots, "CHUNK_SLOTS", 3000)  # 100 jets of N = 30 at a time
    tracemalloc.start()
    try:
        panels, image = everything()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < truth.particles.nbytes / 2  # no copy of all jets x N
    for a, b in zip(whole_panels, panels, strict=True):
        np.testing.assert_array_equal(a.edges, b.edges)
        assert a.truth[1] == b.truth[1] and a.generated[1] == b.generated[1]
        np.testing.assert_array_equal(a.truth[0], b.truth[0])
        np.testing.assert_array_equal(a.generated[0], b.generated[0])
    np.testing.assert_allclose(image, whole_image, rtol=1e-12, atol=1e-15)
