"""LaCATHODE wired into the CATHODE branch: the latent stage (genhep.cathode.stage_latent),
its start-up check, and the jobs a dry run plans.

The stage runs on a tiny toy (two features correlated with mjj) and a MAF trained for a
few steps: what is tested is the plumbing (rows, order, labels, mjj kept; clipped not
dropped; the image is latent_map's), not how good the model is.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import REPO
from genhep.cathode.datasets import Events
from genhep.cathode.files import read_events, write_events
from genhep.cathode.interpolation import fit_preprocessor
from genhep.cathode.latent import latent_map
from genhep.cathode.regions import Regions
from genhep.cathode.stage_latent import STAGE
from genhep.config import check_cathode_config, validate_config
from genhep.errors import GenhepError
from genhep.io.hdf5 import read_table
from genhep.models import build_model, load_ensemble, save_model
from genhep.training import Trainer, TrainSettings, seed_everything

REGIONS = Regions(3.3, 3.7, 2.6, 6.0)
SETTINGS = {
    "mjj_range": [2.6, 6.0],
    "sr_width": 0.4,
    "window": 3.5,
    "seed": 3,
    "device": "cpu",
    "interpolation": {"oversampling": 4},
}
OUTPUTS = ("sr_data", "template", "test", "sideband")


def toy(n, seed, signal=0):
    """Two features whose mean moves with mjj (what LaCATHODE's latent space removes),
    mjj falling above 2.6 TeV; the last ``signal`` events are labelled signal."""
    rng = np.random.default_rng(seed)
    mjj = 2.6 + rng.exponential(0.8, n)
    x = np.column_stack([mjj, -0.5 * mjj]) + rng.standard_normal((n, 2))
    label = np.zeros(n, np.int64)
    label[n - signal :] = 1
    return Events(x, mjj, label, ("a", "b"))


def tiny_maf(pre, sb, path):
    """A MAF trained for a few steps on the SB events, saved as genhep.train saves it."""
    seed_everything(0)
    x = torch.tensor(pre.features.forward(sb.x), dtype=torch.float32)
    c = torch.tensor(pre.context.forward(sb.mjj[:, None]), dtype=torch.float32)
    model = build_model("maf", 2, 1, {"hidden": 8, "transforms": 1})
    settings = TrainSettings(epochs=2, batch_size=256, lr=1e-2, patience=0, best_k=2)
    result = Trainer(model, settings, progress=False).fit(x[:1500], c[:1500], x[1500:], c[1500:])
    kept = [{"epoch": b["epoch"], "state_dict": b["state"]} for b in result.best_states]
    save_model(model, path, ensemble=kept)


@pytest.fixture(scope="module")
def point(tmp_path_factory):
    """A point's inputs (SB model, transform, SR data, test with two events outside the
    fitted range, held-out SB) and the stage's outputs, run once."""
    tmp = tmp_path_factory.mktemp("lacathode")
    events = toy(8_000, 0)
    sb = events.where(REGIONS.sidebands(events.mjj))
    pre = fit_preprocessor(sb, ["minmax", "logit", "standardize"])
    (tmp / "transform.json").write_text(pre.to_json())
    tiny_maf(pre, sb, tmp / "model.pt")
    sr = toy(20_000, 1, signal=50)
    sr = sr.where(REGIONS.signal_region(sr.mjj))
    test = sr.take(np.arange(300))
    test.x[5, 0] = 1e3  # far above the range
    test.x[7, 1] = -1e3  # far below it
    inputs = {"model": tmp / "model.pt", "transform": tmp / "transform.json"}
    sets = {
        "sr_data": sr.take(np.arange(300, 1300)),
        "test": test,
        "sideband": sb.take(np.arange(400)),
    }
    for name, events in sets.items():
        inputs[name] = tmp / f"{name}.h5"
        write_events(inputs[name], events)
    outputs = {f"latent_{name}": tmp / "latent" / f"{name}.h5" for name in OUTPUTS}
    info = STAGE(SETTINGS, inputs, outputs)
    return inputs, outputs, info, pre


def test_latent_files_keep_rows_order_mjj_and_labels(point):
    inputs, outputs, _, _ = point
    for name in ("sr_data", "test", "sideband"):
        before, after = read_events(inputs[name]), read_events(outputs[f"latent_{name}"])
        assert after.feature_names == ("z0", "z1")
        assert len(after) == len(before)
        np.testing.assert_array_equal(after.mjj, before.mjj)
        np.testing.assert_array_equal(after.label, before.label)
        assert np.isfinite(after.x).all()


def test_latent_image_is_latent_map_of_the_preprocessed_events(point):
    inputs, outputs, _, pre = point
    model = load_ensemble(inputs["model"])
    for name in ("sr_data", "test", "sideband"):
        events = read_events(inputs[name])
        x, c = pre.features.forward(events.x), pre.context.forward(events.mjj[:, None])
        inside = np.isfinite(x).all(axis=1)
        z = read_events(outputs[f"latent_{name}"]).x
        np.testing.assert_allclose(z[inside], latent_map(model, x[inside], c[inside]), atol=1e-6)


def test_events_outside_the_fitted_range_are_clipped_and_counted_not_dropped(point):
    inputs, outputs, info, pre = point
    _, attrs = read_table(outputs["latent_test"])
    assert attrs["clipped_into_range"] == info["test_clipped"] == 2
    z = read_events(outputs["latent_test"]).x
    assert len(z) == 300 and np.isfinite(z[[5, 7]]).all()
    # the first feature of event 5 sits at the top of the range: a large, finite z0
    assert z[5, 0] > 3
    assert info["sr_data_clipped"] == read_table(outputs["latent_sr_data"])[1]["clipped_into_range"]


def test_latent_template_is_a_standard_normal_of_the_template_size(point):
    inputs, outputs, _, _ = point
    template = read_events(outputs["latent_template"])
    n_sr = len(read_events(inputs["sr_data"]))
    assert len(template) == 4 * n_sr and template.feature_names == ("z0", "z1")
    np.testing.assert_allclose(template.x.mean(axis=0), 0, atol=0.1)
    np.testing.assert_allclose(template.x.std(axis=0), 1, atol=0.1)
    assert REGIONS.signal_region(template.mjj).all() and (template.label == 0).all()
    assert read_table(outputs["latent_template"])[1]["oversampling"] == 4


def test_a_family_without_a_latent_map_is_refused_by_name(point, tmp_path):
    inputs, _, _, _ = point
    save_model(build_model("vae", 2, 1, {"hidden": 8}), tmp_path / "vae.pt")
    outputs = {f"latent_{name}": tmp_path / f"{name}.h5" for name in OUTPUTS}
    with pytest.raises(GenhepError, match=r"family 'vae' \(config key cathode.families\) has no"):
        STAGE(SETTINGS, {**inputs, "model": tmp_path / "vae.pt"}, outputs)
    assert not any(p.exists() for p in outputs.values())


# --- the workflow: start-up check and planned jobs ------------------------------------------


def cathode_section(**keys):
    config = {"cathode": keys}
    validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    return config["cathode"]


def test_lacathode_without_a_mapped_family_fails_at_start_up():
    with pytest.raises(GenhepError) as err:
        check_cathode_config(cathode_section(methods=["lacathode"], families=["vae"]))
    assert str(err.value) == (
        "invalid config: key cathode.methods: lacathode classifies in a density model's latent "
        "space, and none of cathode.families (vae) has one (families with one: maf, nsf, cfm)"
    )
    check_cathode_config(cathode_section(methods=["lacathode"], families=["vae", "maf"]))


def test_dry_run_plans_lacathode_for_the_mapped_families_only(tmp_path):
    from test_workflow import TINY, planned_jobs, snakemake

    cathode = {**TINY["cathode"], "families": ["maf", "vae"], "methods": ["cathode", "lacathode"]}
    result = snakemake(tmp_path, {**TINY, "cathode": cathode}, "-n", "cathode_summary")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    planned = planned_jobs(result)
    # two signal levels: maf and vae for cathode, maf alone for lacathode
    assert planned["cathode_classify"] == 4
    assert planned["cathode_latent"] == planned["cathode_lacathode"] == 2
    assert "lacathode_maf.h5" in out and "latent/maf/template.h5" in out
    assert "lacathode_vae" not in out and "latent/vae" not in out
