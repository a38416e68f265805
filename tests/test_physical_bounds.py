"""Physical bounds in the preprocessing, the unphysical-event count and the NLL in physical
units (genhep.preprocess, genhep.evaluate)."""

import json
import logging

import h5py
import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid
from scipy.stats import norm

from genhep.bounds import BOUND_NUDGE
from genhep.contracts import load_split
from genhep.errors import GenhepError
from genhep.evaluate import count_unphysical, heldout_nll, split_bounds, unphysical_counts
from genhep.features import FEATURE_BOUNDS
from genhep.io.atomic import atomic_path
from genhep.io.hdf5 import TableWriter, write_attrs
from genhep.preprocess import preprocess
from genhep.transforms import Preprocessor, TransformChain

NAMES = ["mj_min", "delta_mj", "tau21_min", "tau21_max"]
STEPS = ["minmax", "logit", "standardize"]


def lhco_like(n=4000, seed=0):
    """Features whose 5 % widened training range crosses the physical bounds: light jet
    masses down to ~0, τ21 spread over nearly all of (0, 1)."""
    rng = np.random.default_rng(seed)
    mjj = 2.5 + rng.exponential(0.5, n)
    return {
        "mjj": mjj,
        "mj_min": 0.03 * mjj * rng.lognormal(0, 0.8, n),
        "delta_mj": rng.exponential(0.05, n),
        "tau21_min": rng.beta(1.2, 1.2, n),
        "tau21_max": rng.beta(2, 1.1, n),
        "label": np.zeros(n, dtype=np.int32),
    }


def write_table(path, cols):
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        TableWriter(f, {"mjj": "TeV"}).append(cols)
        write_attrs(f, {"columns": list(cols), "events_kept": len(cols["mjj"])})
    return path


def splits(tmp_path):
    return {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")}


def fitted(cols, bounds=None):
    x = np.column_stack([cols[c] for c in NAMES])
    return TransformChain.build(NAMES, STEPS, 0.05, bounds).fit(x), x


def extreme_preprocessed(d, seed=1):
    """Preprocessed values a generator may produce: wild normals, huge, ±inf-bound."""
    rng = np.random.default_rng(seed)
    return np.vstack(
        [
            rng.normal(0, 10, (20_000, d)),
            rng.uniform(-1e4, 1e4, (1000, d)),
            np.full((1, d), 1e300),
            np.full((1, d), -1e300),
            np.full((1, d), 40.0),  # expit(y) rounds to 1 exactly: x = hi, in float
            np.full((1, d), -40.0),
        ]
    )


def test_inverse_of_any_preprocessed_value_stays_inside_the_physical_bounds():
    chain, x = fitted(lhco_like())
    # The widened range would reach below 0 (masses) and beyond [0, 1] (τ21): clipped.
    assert chain.steps[0].lo.tolist() == [0.0] * 4
    assert chain.steps[0].hi.tolist()[2:] == [1.0, 1.0]
    back = chain.inverse(extreme_preprocessed(len(NAMES)))
    assert np.isfinite(back).all() and (back >= 0).all() and (back[:, 2:] <= 1).all()
    assert unphysical_counts(dict(zip(NAMES, back.T, strict=True)), FEATURE_BOUNDS)["events"] == 0
    # Without the bounds (as before: [null, null] lifts them) the same values leave them.
    loose, _ = fitted(lhco_like(), {c: [None, None] for c in NAMES})
    old = loose.inverse(extreme_preprocessed(len(NAMES)))
    assert (old[:, 0] < 0).sum() > 100 and (old[:, 2:] > 1).sum() > 100


def test_inverse_of_the_unit_interval_ends_is_never_rounded_past_the_bounds():
    """u (hi − lo) + lo at u = 1 rounds above hi for ~5 % of (lo, hi) pairs in float64; an
    upper bound that is a physical one (a user's [null, 2.5]) must still hold."""
    from genhep.transforms import MinMax

    rng = np.random.default_rng(0)
    lo, hi = rng.uniform(-1, 1, 100_000), rng.uniform(1, 3, 100_000)
    step = MinMax(lo=lo, hi=hi)
    assert (1.0 * (hi - lo) + lo > hi).sum() > 1000  # what the plain formula gives
    assert (step.inverse(np.ones_like(lo)) <= hi).all()
    assert (step.inverse(np.zeros_like(lo)) >= lo).all()
    assert step.inverse(np.array([1.5]))[0] > hi[0]  # outside [0, 1] (no logit): not clipped


def test_bounds_are_the_widened_range_intersected_with_the_physical_one():
    cols = lhco_like()
    chain, x = fitted(cols)
    lo, hi = x.min(axis=0), x.max(axis=0)
    width = hi - lo
    np.testing.assert_allclose(chain.steps[0].lo, np.maximum(lo - 0.05 * width, 0.0))
    np.testing.assert_allclose(chain.steps[0].hi, [*(hi + 0.05 * width)[:2], 1.0, 1.0])
    # mjj (as a modeled column) lies far above 0: its widened range is kept as it is.
    m = TransformChain.build(["mjj"], STEPS).fit(cols["mjj"][:, None])
    mlo = cols["mjj"].min() - 0.05 * np.ptp(cols["mjj"])
    assert m.bounds == {"mjj": (0.0, None)} and m.steps[0].lo[0] == pytest.approx(mlo)


def test_events_on_a_physical_bound_are_nudged_inside_not_dropped(tmp_path):
    cols = lhco_like(n=3000)
    cols["tau21_min"][:30] = 0.0  # one-constituent jets: τ1 = 0, τ21 = 0
    cols["tau21_max"][30:40] = 1.0
    cols["mj_min"][40:45] = 0.0  # massless jets
    outs = splits(tmp_path)
    summary = preprocess(write_table(tmp_path / "e.h5", cols), outs, tmp_path / "t.json", seed=2)
    assert sum(s["nudged_off_bound"] for s in summary.values()) == 45
    assert sum(s["dropped_out_of_range"] for s in summary.values()) == 0
    pre = Preprocessor.load(tmp_path / "t.json")
    mm = pre.features.steps[0]
    width = mm.hi - mm.lo
    for path in outs.values():
        split = load_split(path)
        assert np.isfinite(split["features"]).all()
        back = pre.features.inverse(split["features"])
        rows = split["row"]
        expected = np.column_stack([cols[c][rows] for c in NAMES])
        on = expected == np.array([0.0, np.nan, 0.0, 1.0])  # only the 45 set above
        # On the bound: moved BOUND_NUDGE of the width inside; elsewhere: exact round trip.
        nudged = np.where(expected == 0.0, BOUND_NUDGE * width, expected - BOUND_NUDGE * width)
        np.testing.assert_allclose(back[on], nudged[on], rtol=1e-6)
        np.testing.assert_allclose(back[~on], expected[~on], rtol=1e-6, atol=1e-12)


def test_unphysical_input_is_dropped_counted_and_named(tmp_path, caplog):
    cols = lhco_like(n=3000)
    cols["tau21_max"][:7] = 1.02
    cols["mj_min"][7:10] = -0.001
    outs = splits(tmp_path)
    with caplog.at_level(logging.WARNING, logger="genhep"):
        summary = preprocess(write_table(tmp_path / "e.h5", cols), outs, tmp_path / "t.json")
    assert sum(s["dropped_unphysical"] for s in summary.values()) == 10
    # Dropped with the events outside the widened training range, and counted among them.
    assert all(s["dropped_out_of_range"] >= s["dropped_unphysical"] for s in summary.values())
    assert sum(s["events"] + s["dropped_out_of_range"] for s in summary.values()) == 3000
    assert "tau21_max: 7 of 3000 events outside the physical range [0.0, 1.0]" in caplog.text
    assert "mj_min: 3 of 3000" in caplog.text and "preprocess.bounds.mj_min" in caplog.text
    # The training range is fitted on the physical events only: τ21 ≤ 1 still.
    assert Preprocessor.load(tmp_path / "t.json").features.steps[0].hi[3] == 1.0


def test_config_bounds_override_lift_and_are_checked(tmp_path):
    cols = lhco_like(n=2000)
    cols["width"] = np.random.default_rng(3).uniform(0.2, 0.9, 2000)  # a user's own column
    table = write_table(tmp_path / "e.h5", cols)
    outs = splits(tmp_path)
    bounds = {"width": [0.0, 1.0], "delta_mj": [None, None]}
    preprocess(table, outs, tmp_path / "t.json", bounds=bounds)
    chain = Preprocessor.load(tmp_path / "t.json").features
    assert chain.bounds["width"] == (0.0, 1.0) and "delta_mj" not in chain.bounds
    assert chain.bounds["tau21_min"] == FEATURE_BOUNDS["tau21_min"]
    saved = json.loads((tmp_path / "t.json").read_text())["features"]["bounds"]
    assert saved["mj_min"] == [0.0, None] and saved["width"] == [0.0, 1.0]
    for bad, message in [
        ({"nope": [0, 1]}, r"preprocess.bounds.nope: no such column"),
        ({"width": [1, 0]}, r"preprocess.bounds.width: lo must be below hi"),
        ({"width": [0]}, r"preprocess.bounds.width: must be \[lo, hi\]"),
    ]:
        with pytest.raises(GenhepError, match=message):
            preprocess(table, splits(tmp_path / "x"), tmp_path / "x.json", bounds=bad)


def test_old_transform_json_without_bounds_still_loads():
    cols = lhco_like()
    x = np.column_stack([cols[c] for c in NAMES])
    chain = TransformChain.build(NAMES, STEPS, 0.05, {c: [None, None] for c in NAMES}).fit(x)
    old = chain.to_dict()
    old.pop("bounds")  # the layout before bounds existed
    pre = Preprocessor.from_json(json.dumps({"features": old, "context": None}))
    assert pre.features.bounds is None
    y = pre.features.forward(x)
    np.testing.assert_allclose(pre.features.inverse(y), x, rtol=1e-9)
    # What the evaluation counts against for such a file: the known features' bounds.
    assert split_bounds({"preprocessor": pre}) == {c: FEATURE_BOUNDS[c] for c in NAMES}


def test_saved_bounds_round_trip_and_keep_nudging():
    cols = lhco_like()
    cols["tau21_min"][0] = 0.0
    chain, x = fitted(cols)
    again = Preprocessor.from_json(Preprocessor(chain, None).to_json()).features
    assert again.bounds == chain.bounds
    np.testing.assert_array_equal(again.forward(x), chain.forward(x))
    assert np.isfinite(again.forward(x)).all() and again.on_bound(x).sum() == 1


def numerical_log_det(chain, x, h=1e-3):
    """log |det ∂y/∂x| by a five-point central difference per column (the chain is
    column-wise, so the Jacobian is diagonal), each step ``h`` × the value's distance to
    the nearer min-max bound (the logit varies fast near them)."""
    lo, hi = chain.steps[0].lo, chain.steps[0].hi
    steps = h * np.minimum(x - lo, hi - x)
    total = np.zeros(len(x))
    for j, e in enumerate(np.eye(x.shape[1])):
        f = {k: chain.forward(x + k * steps[:, [j]] * e)[:, j] for k in (-2, -1, 1, 2)}
        dy = (f[-2] - 8 * f[-1] + 8 * f[1] - f[2]) / (12 * steps[:, j])
        total += np.log(np.abs(dy))
    return total


def test_log_abs_det_jacobian_matches_a_numerical_derivative_to_1e6():
    chain, x = fitted(lhco_like())
    x = x[:2000]
    np.testing.assert_allclose(
        chain.log_abs_det_jacobian(x), numerical_log_det(chain, x), rtol=0, atol=1e-6
    )


def test_a_normal_density_in_preprocessed_space_maps_back_to_a_density():
    """q = N(0, 1) in the preprocessed space is p(x) = q(forward(x)) |∂y/∂x| in physical
    units: it integrates to 1 over the physical range and matches a histogram of q's
    samples mapped back with the inverse."""
    cols = lhco_like()
    chain = TransformChain.build(["tau21_min"], STEPS).fit(cols["tau21_min"][:, None])
    lo, hi = chain.steps[0].lo[0], chain.steps[0].hi[0]
    grid = np.linspace(lo, hi, 400_001)[1:-1, None]
    density = np.exp(norm.logpdf(chain.forward(grid)[:, 0]) + chain.log_abs_det_jacobian(grid))
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=1e-4)
    samples = chain.inverse(np.random.default_rng(5).standard_normal((400_000, 1)))[:, 0]
    counts, edges = np.histogram(samples, bins=40, range=(lo, hi))
    cumulative = cumulative_trapezoid(density, grid[:, 0], initial=0.0)
    expected = np.diff(np.interp(edges, grid[:, 0], cumulative)) * len(samples)
    pull = (counts - expected) / np.sqrt(expected)
    assert np.abs(pull).max() < 5


def test_unphysical_events_are_counted_per_column_in_a_sample_file(tmp_path):
    n = 250_000
    table = {
        "mj_min": np.linspace(-0.01, 1.0, n),  # below 0: the first 0.99 % (2475 events)
        "tau21_min": np.full(n, 0.5),
        "tau21_max": np.full(n, 0.5),
        "mjj": np.full(n, 3.0),
    }
    table["tau21_max"][-10:] = 1.0 + 1e-9
    table["tau21_min"][:5] = -1e-9  # the same events as five negative masses
    path = tmp_path / "samples.h5"
    with h5py.File(path, "w") as f:
        TableWriter(f, {}).append(table)
    bounds = {c: FEATURE_BOUNDS[c] for c in table}
    expected_mass = int((table["mj_min"] < 0).sum())
    counts = count_unphysical(path, bounds, chunk=100_000)  # three chunks, one partial
    assert counts["per_column"] == {
        "mj_min": expected_mass,
        "tau21_min": 5,
        "tau21_max": 10,
        "mjj": 0,
    }
    assert counts["events"] == expected_mass + 10 and counts["checked"] == n
    assert counts["fraction"] == pytest.approx((expected_mass + 10) / n)
    assert counts == unphysical_counts(table, bounds)


def test_heldout_nll_in_physical_units_adds_the_numerical_log_jacobian(tmp_path):
    from genhep.models import build_model, save_model
    from genhep.training import seed_everything

    cols = lhco_like(n=2000)
    outs = splits(tmp_path)
    preprocess(write_table(tmp_path / "e.h5", cols), outs, tmp_path / "t.json", seed=1)
    seed_everything(0)
    save_model(build_model("maf", 4, 1, {"hidden": 8, "transforms": 2}), tmp_path / "m.pt")
    test = load_split(outs["test"])
    result = heldout_nll(tmp_path / "m.pt", test)
    assert result["nll_kind"] == "exact" and np.isfinite(result["nll_preprocessed"])
    chain = test["preprocessor"].features
    x = chain.inverse(test["features"])
    # −log p(x) = −log q(y) − log|∂y/∂x|, the derivative taken numerically here.
    expected = result["nll_preprocessed"] - numerical_log_det(chain, x).mean()
    assert result["nll_physical"] == pytest.approx(expected, abs=1e-5)
    assert result["nll_physical"] != pytest.approx(result["nll_preprocessed"], abs=0.5)


def test_preprocess_script_takes_bounds_from_its_params(tmp_path):
    from conftest import run_script

    table = write_table(tmp_path / "e.h5", lhco_like(n=2000))
    params = {
        "context": "mjj",
        "features": None,
        "split": {"train": 0.6, "val": 0.2, "test": 0.2},
        "seed": 7,
        "transforms": STEPS,
        "context_transforms": ["standardize"],
        "minmax_margin": 0.05,
        "bounds": {"tau21_min": [0.1, None]},
    }
    outs = [f"--{s}={p}" for s, p in splits(tmp_path).items()]
    args = ["--features", table, *outs, "--transform", tmp_path / "t.json"]
    ok = run_script("preprocess", *args, "--params", json.dumps(params))
    assert ok.returncode == 0, ok.stderr
    chain = Preprocessor.load(tmp_path / "t.json").features
    assert chain.bounds["tau21_min"] == (0.1, None) and chain.steps[0].lo[2] == 0.1
    params["bounds"] = {"tau21_min": [0.5, 0.2]}
    bad = run_script("preprocess", *args, "--params", json.dumps(params))
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "genhep preprocess: error: config key preprocess.bounds.tau21_min: "
        "lo must be below hi, not [0.5, 0.2]"
    )


def test_leaderboard_shows_both_nlls_and_the_unphysical_fraction():
    from genhep.report import leaderboard_markdown, leaderboard_rows

    table = {"mj_min": np.array([-0.1, 0.2, 0.3, 0.4]), "tau21_min": np.array([0.5] * 4)}
    truth = {"metrics": {"auc_gbdt": 0.5}, "unphysical": unphysical_counts(table, {})}

    def family(name, nll, kind, unphysical):
        return {
            "family": name,
            "metrics": {"auc_gbdt": 0.6},
            "nll_preprocessed": nll,
            "nll_physical": None if nll is None else nll - 3.0,
            "nll_kind": kind,
            "unphysical": unphysical,
            "training_seconds": 1.0,
            "training_device": "cpu",
            "sample_events_per_second": 1e4,
            "sample_device": "cpu",
        }

    rows = leaderboard_rows(
        truth,
        [
            family("maf", 1.25, "exact", unphysical_counts(table, FEATURE_BOUNDS)),
            family("vae", 2.5, "elbo_bound", unphysical_counts(table, FEATURE_BOUNDS)),
            family("gan", None, "none", unphysical_counts(table, FEATURE_BOUNDS)),
        ],
    )
    maf = rows[1]
    assert (maf["nll_preprocessed"], maf["nll_physical"]) == (1.25, -1.75)
    assert maf["unphysical_events"] == maf["unphysical_mj_min"] == 1
    assert maf["unphysical_fraction"] == 0.25 and maf["unphysical_tau21_min"] == 0
    md = leaderboard_markdown(rows, ["mj_min", "tau21_min"], 4)
    assert "| NLL preproc. | NLL phys. | unphysical |" in md
    assert "| 1.25 | -1.75 | 0.25 |" in md
    assert "| 2.5 (≥, ELBO) | -0.5 (≥, ELBO) | 0.25 |" in md
    assert "| – | – | 0.25 |" in md and "nats per event" in md and "TeV" in md
