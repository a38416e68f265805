import json

import h5py
import numpy as np
import pytest

from conftest import feature_table
from genhep.contracts import load_split
from genhep.errors import GenhepError
from genhep.io.atomic import atomic_path
from genhep.io.hdf5 import TableWriter, write_attrs
from genhep.preprocess import preprocess, split_indices
from genhep.transforms import Preprocessor, TransformChain


def test_chain_round_trip_to_1e6():
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.exponential(0.1, 5000), rng.beta(2, 5, 5000), rng.normal(3, 1, 5000)])
    chain = TransformChain.build(["a", "b", "c"], ["minmax", "logit", "standardize"]).fit(x)
    y = chain.forward(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-9)
    np.testing.assert_allclose(chain.inverse(y), x, rtol=1e-6, atol=1e-9)
    # Through JSON too: the saved transform is the one used.
    again = TransformChain.from_dict(json.loads(json.dumps(chain.to_dict())))
    np.testing.assert_allclose(again.inverse(y), x, rtol=1e-6, atol=1e-9)


def test_split_is_disjoint_complete_and_seeded():
    a = split_indices(1000, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=4)
    b = split_indices(1000, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=4)
    c = split_indices(1000, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=5)
    assert [len(a[s]) for s in ("train", "val", "test")] == [600, 200, 200]
    assert np.array_equal(np.sort(np.concatenate(list(a.values()))), np.arange(1000))
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert not np.array_equal(a["train"], c["train"])
    with pytest.raises(GenhepError, match="sum to 1"):
        split_indices(10, {"train": 0.6, "val": 0.2, "test": 0.3}, 0)


def test_preprocess_fits_on_train_only_and_inverts_every_split(tmp_path):
    cols = feature_table(tmp_path / "events.h5")
    outputs = {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")}
    summary = preprocess(tmp_path / "events.h5", outputs, tmp_path / "t.json", seed=3)
    train = load_split(outputs["train"])
    # Standardized on train: mean 0 and std 1 there (not on the other splits).
    np.testing.assert_allclose(train["features"].mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(train["features"].std(axis=0), 1, atol=1e-9)
    pre = Preprocessor.load(tmp_path / "t.json")
    names = ["mj_min", "delta_mj", "tau21_min", "tau21_max"]
    assert pre.features.names == names
    total = 0
    for split, path in outputs.items():
        data = load_split(path)
        rows = data["row"]
        physical = pre.features.inverse(data["features"])
        expected = np.column_stack([cols[c][rows] for c in names])
        np.testing.assert_allclose(physical, expected, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(
            pre.context.inverse(data["context"])[:, 0], cols["mjj"][rows], rtol=1e-6
        )
        np.testing.assert_array_equal(data["label"], cols["label"][rows])
        assert data["attrs"]["events"] == summary[split]["events"] == len(rows)
        total += summary[split]["events"] + summary[split]["dropped_out_of_range"]
    assert total == 20_000


def test_out_of_range_events_in_val_are_dropped_and_counted(tmp_path):
    cols = feature_table(tmp_path / "events.h5", n=2000)
    outputs = {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")}
    # With no margin, the extreme val/test values fall outside the training range.
    summary = preprocess(tmp_path / "events.h5", outputs, tmp_path / "t.json", margin=0.0)
    assert summary["train"]["dropped_out_of_range"] > 0  # train min/max map to logit(0|1)
    for split in ("val", "test"):
        data = load_split(outputs[split])
        assert np.isfinite(data["features"]).all()
    assert sum(s["events"] + s["dropped_out_of_range"] for s in summary.values()) == len(
        cols["mjj"]
    )


def test_missing_column_and_constant_feature_name_the_problem(tmp_path):
    feature_table(tmp_path / "events.h5")
    outputs = {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")}
    with pytest.raises(GenhepError, match=r"preprocess.features.*'nsubjets'"):
        preprocess(tmp_path / "events.h5", outputs, tmp_path / "t.json", feature_names=["nsubjets"])
    with pytest.raises(GenhepError, match=r"preprocess.context.*'mbb'"):
        preprocess(tmp_path / "events.h5", outputs, tmp_path / "t.json", context_name="mbb")
    assert not any(p.exists() for p in outputs.values())
    with atomic_path(tmp_path / "const.h5") as tmp, h5py.File(tmp, "w") as f:
        TableWriter(f, {}).append({"mjj": np.linspace(3, 4, 100), "width": np.full(100, 0.2)})
        write_attrs(f, {"columns": ["mjj", "width"]})
    with pytest.raises(GenhepError, match=r"cannot fit minmax on columns \['width'\]"):
        preprocess(tmp_path / "const.h5", outputs, tmp_path / "t.json")
    assert not any(p.exists() for p in [*outputs.values(), tmp_path / "t.json"])


def test_the_stage_is_the_library_with_the_configs_settings(tmp_path):
    """The preprocess stage (as the workflow runs it: the config section and the classifier
    folds in one settings document) writes what the library writes with those arguments."""
    from genhep.preprocess import STAGE

    feature_table(tmp_path / "events.h5")
    settings = {"seed": 3, "split": {"train": 0.5, "val": 0.25, "test": 0.25}}
    outputs = {s: tmp_path / "stage" / f"{s}.h5" for s in ("train", "val", "test")}
    outputs["transform"] = tmp_path / "stage" / "t.json"
    STAGE({**settings, "classifier_folds": 3}, {"features": tmp_path / "events.h5"}, outputs)
    library = {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")}
    fractions = settings["split"]
    preprocess(tmp_path / "events.h5", library, tmp_path / "t.json", seed=3, fractions=fractions)
    assert outputs["transform"].read_text() == (tmp_path / "t.json").read_text()
    for split, path in library.items():
        np.testing.assert_array_equal(load_split(outputs[split])["row"], load_split(path)["row"])
    # 20 test events: enough for the metrics, too few for a 50-fold classifier test.
    small = {"train": 0.5, "val": 0.499, "test": 0.001}
    STAGE({"split": small}, {"features": tmp_path / "events.h5"}, outputs)
    with pytest.raises(GenhepError, match="evaluate.folds = 50"):
        STAGE(
            {"split": small, "classifier_folds": 50}, {"features": tmp_path / "events.h5"}, outputs
        )
