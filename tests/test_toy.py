import json

import numpy as np
import pytest
import uproot

from genhep.data.toy import (
    CHUNK_EVENTS,
    STAGE,
    DijetSpectrum,
    chunk_to_awkward,
    dijet_kinematics,
    dijet_pdf,
    iter_chunks,
    write_root,
)
from genhep.errors import GenhepError
from genhep.features import invariant_mass, leading_pair, lhco_features, select_jets
from genhep.settings.data import ToySettings


def all_events(params):
    chunks = list(iter_chunks(params))
    return chunks, np.concatenate([c["label"] for c in chunks])


def test_counts_and_exact_signal_fraction_across_chunks():
    params = ToySettings(n_events=2 * CHUNK_EVENTS + 12_345, signal_fraction=0.0123, seed=3)
    chunks, label = all_events(params)
    assert len(label) == params.n_events
    assert label.sum() == round(params.n_events * 0.0123)
    assert len(chunks) == 3
    for c in chunks:
        assert len(c["counts"]) == len(c["label"])
        assert c["counts"].min() >= 2
        assert len(c["jets"]["pt"]) == c["counts"].sum()


def test_same_seed_same_events_other_seed_other_events():
    a = next(iter_chunks(ToySettings(n_events=5000, seed=11)))
    b = next(iter_chunks(ToySettings(n_events=5000, seed=11)))
    c = next(iter_chunks(ToySettings(n_events=5000, seed=12)))
    for k in a["jets"]:
        np.testing.assert_array_equal(a["jets"][k], b["jets"][k])
    np.testing.assert_array_equal(a["label"], b["label"])
    assert not np.array_equal(a["jets"]["pt"][:100], c["jets"]["pt"][:100])


def test_two_body_kinematics_reproduce_the_sampled_mass():
    rng = np.random.default_rng(0)
    n = 1000
    mjj = rng.uniform(2.5, 6.0, n)
    m1, m2 = rng.uniform(0.01, 0.6, (2, n))
    j1, j2 = dijet_kinematics(rng, mjj, m1, m2, rng.uniform(-0.8, 0.8, n), 0.5, 0.05)
    np.testing.assert_allclose(invariant_mass(j1, j2), mjj, rtol=1e-9)
    np.testing.assert_allclose(j1["mass"], m1)


def test_mjj_spectrum_follows_the_dijet_function():
    params = ToySettings()
    spectrum = DijetSpectrum(params.sqrt_s, params.background)
    mjj = spectrum.sample(np.random.default_rng(1), 400_000)
    bkg = params.background
    assert mjj.min() >= bkg.mjj_min and mjj.max() <= bkg.mjj_max
    # Fraction in a window vs the numerically integrated dijet function.
    grid = np.linspace(bkg.mjj_min, bkg.mjj_max, 200_001)
    pdf = dijet_pdf(grid / params.sqrt_s, bkg.p1, bkg.p2, bkg.p3)
    window = (grid > 3.3) & (grid < 3.7)
    expected = pdf[window].sum() / pdf.sum()
    observed = np.mean((mjj > 3.3) & (mjj < 3.7))
    assert observed == pytest.approx(expected, abs=4 * np.sqrt(expected / 400_000))


def test_physics_shapes_signal_peaks_and_background_correlation():
    params = ToySettings(n_events=200_000, signal_fraction=0.05, seed=5)
    feats, labels = [], []
    for chunk in iter_chunks(params):
        jets = select_jets(chunk_to_awkward(chunk)["jet"])
        j1, j2, has_two = leading_pair(jets)
        assert has_two.all()
        feats.append(lhco_features(j1, j2))
        labels.append(chunk["label"])
    f = {k: np.concatenate([x[k] for x in feats]) for k in feats[0]}
    sig = np.concatenate(labels) == 1
    # Signal: mjj at the resonance mass, lighter jet at m_Y, mass difference m_X - m_Y, two-prong.
    assert np.median(f["mjj"][sig]) == pytest.approx(3.5, abs=0.01)
    assert np.median(f["mj_min"][sig]) == pytest.approx(0.1, abs=0.005)
    assert np.median(f["delta_mj"][sig]) == pytest.approx(0.4, abs=0.01)
    assert np.median(f["tau21_min"][sig]) < 0.35 < np.median(f["tau21_min"][~sig])
    # Background: jet mass scale grows with mjj (what CATHODE must interpolate).
    bkg_mjj, bkg_mj = f["mjj"][~sig], f["mj_min"][~sig]
    low = np.median(bkg_mj[bkg_mjj < 2.8])
    high = np.median(bkg_mj[bkg_mjj > 4.0])
    assert high > 1.4 * low


def test_root_file_is_a_ttree_with_jagged_jets(tmp_path):
    params = ToySettings(n_events=3000, signal_fraction=0.1, seed=2)
    counts = write_root(params, tmp_path / "toy.root")
    assert counts == {"events": 3000, "signal": 300}
    with uproot.open(tmp_path / "toy.root") as f:
        assert f.classnames()["events;1"] == "TTree"
        tree = f["events"]
        assert tree.num_entries == 3000
        for k in ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3"):
            assert tree[f"jet_{k}"].typename == "float[]"
        arrays = tree.arrays(["jet_pt", "label"])
        assert int(np.sum(arrays["label"])) == 300
        # GeV in the file: leading jets of a >= 2.5 TeV dijet system carry ~1 TeV.
        assert float(np.median(arrays["jet_pt"][:, 0])) > 800
    assert not list(tmp_path.glob(".*tmp*"))


def test_the_stage_writes_what_its_settings_say(tmp_path):
    counts = STAGE(
        {"n_events": 3000, "signal_fraction": 0.1, "seed": 2}, {}, {"root": tmp_path / "t.root"}
    )
    assert counts == {"events": 3000, "signal": 300}
    with uproot.open(tmp_path / "t.root") as f:
        recorded = json.loads(str(f["genhep_toy_params"]))
    assert recorded["seed"] == 2 and recorded["background"]["mjj_min"] == 2.5


def test_bad_toy_config_names_the_key():
    with pytest.raises(GenhepError, match="toy.n_evnts"):
        ToySettings.from_config({"n_evnts": 10})
    with pytest.raises(GenhepError, match="toy.background.mjj_min"):
        ToySettings.from_config({"background": {"mjj_min": 8.0}})


def _cos_theta_star(j1, j2):
    """cos θ* of the first jet in the dijet rest frame, against the beam axis."""
    import vector

    p1, p2 = (vector.array({k: j[k] for k in ("pt", "eta", "phi", "mass")}) for j in (j1, j2))
    return np.asarray(p1.boostCM_of_p4(p1 + p2).costheta)


def test_signal_decays_isotropically_like_a_scalar_and_qcd_is_forward():
    """The toy's signal is a scalar resonance: cos θ* is uniform in the acceptance (a
    spin-1 W' to two scalars would give sin²θ*, a deficit at the edges); QCD's t- and
    u-channel poles pile events up at |cos θ*| → c_max."""
    from scipy import stats

    from genhep.data.toy import _background_pair, _signal_pair

    params = ToySettings(rapidity_sigma=0.0, recoil_pt_scale=0.0)  # the rest frame's z = beam
    c_max = params.background.cos_theta_max
    n = 20_000
    sig = np.abs(_cos_theta_star(*_signal_pair(np.random.default_rng(0), n, params)))
    spectrum = DijetSpectrum(params.sqrt_s, params.background)
    rng = np.random.default_rng(1)
    bkg = np.abs(_cos_theta_star(*_background_pair(rng, n, params, spectrum)))
    assert sig.max() <= c_max + 1e-9 and bkg.max() <= c_max + 1e-9
    assert stats.kstest(sig, stats.uniform(0, c_max).cdf).pvalue > 1e-3
    # The outer fifth of the acceptance holds 20% of isotropic decays; under sin²θ* it
    # would hold 12%.
    outer = np.mean(sig > 0.8 * c_max)
    assert outer == pytest.approx(0.2, abs=4 * np.sqrt(0.2 * 0.8 / n))
    assert stats.kstest(bkg, stats.uniform(0, c_max).cdf).pvalue < 1e-10
    assert np.mean(bkg > 0.8 * c_max) > 0.3
