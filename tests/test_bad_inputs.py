"""Inputs a user can get wrong, and damaged or full disks: each stage ends with one line
naming the file, branch or config key, exit 1, the line (or traceback) in the stage's log,
and no output a downstream rule would take for finished."""

import contextlib
import errno
import json
import os
import shutil
import subprocess

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from conftest import DATA, feature_table, run_script, run_stage, write_jets_root
from genhep.contracts import load_split
from genhep.errors import GenhepError
from genhep.evaluate import TRUTH_STAGE as EVALUATE_TRUTH
from genhep.io import atomic
from genhep.io.atomic import atomic_path
from genhep.io.root import JAGGED_FIXED, BranchType, _field_problem
from genhep.preprocess import SPLITS, classifier_events_needed, min_test_events, preprocess
from genhep.transforms import Preprocessor

PREPROCESS_PARAMS = {
    "context": "mjj",
    "features": None,
    "split": {"train": 0.6, "val": 0.2, "test": 0.2},
    "seed": 7,
    "transforms": ["minmax", "logit", "standardize"],
    "context_transforms": ["standardize"],
    "minmax_margin": 0.05,
}
EVALUATE_PARAMS = {"bins": 10, "classifiers": ["gbdt"], "folds": 5, "seed": 0}
JETS = {  # two events of two jets each, GeV
    "pt": [[1000.0, 900.0], [1200.0, 1100.0]],
    "eta": [[0.1, -0.4], [0.0, 0.3]],
    "phi": [[0.0, 3.0], [1.0, -2.0]],
    "mass": [[100.0, 300.0], [500.0, 80.0]],
    "tau1": [[0.4, 0.5], [0.3, 0.2]],
    "tau2": [[0.2, 0.1], [0.1, 0.15]],
    "tau3": [[0.1, 0.05], [0.05, 0.1]],
}


def assert_one_line_failure(result, stage, log, outputs, *fragments):
    """Exit 1, one line on stderr holding ``fragments``, that line (or a traceback) in the
    log, and none of ``outputs`` nor their temporaries left."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    message = result.stderr.strip()
    assert message.count("\n") == 0, f"expected one line, got:\n{message}"
    assert message.startswith(f"genhep {stage}: error:"), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    logged = log.read_text()
    assert message.split(": error: ", 1)[1] in logged or "Traceback" in logged, logged
    for out in outputs:
        assert not out.exists(), out
        assert not list(out.parent.glob(f".{out.name}.tmp*")), out
    return message


# --- item 3: branch types and files that are not ROOT files -----------------------------


def flat_file(path, **branches):
    """A TTree 'events' of flat (or fixed-size, or jagged) branches."""
    types = {
        k: v.type.content if isinstance(v, ak.Array) else np.dtype((v.dtype, v.shape[1:]))
        for k, v in branches.items()
    }
    with uproot.recreate(path) as f:
        f.mktree("events", types).extend(branches)
    return path


def flat_mapping(**columns):
    return {"kind": "flat", "tree": "events", "label": None, "columns": columns}


def run_ingest(tmp_path, inputs, mapping):
    out, log = tmp_path / "out" / "events.h5", tmp_path / "logs" / "ingest.log"
    result = run_script(
        "ingest",
        "--params",
        json.dumps({"mapping": mapping}),
        "--roots",
        *inputs,
        "--features",
        out,
        "--log",
        log,
    )
    return result, out, log


def _jagged(tmp_path):
    path = flat_file(tmp_path / "x.root", x=ak.Array([[1.0, 2.0], [3.0]]))
    return path, flat_mapping(x="x"), ["branch 'x' is jagged (var * float64)", "kind: flat"]


def _string(tmp_path):
    # A real file: the CMS dimuon ntuple's 'Type' branch holds strings ("GT", "TT", ...).
    mapping = flat_mapping(mjj={"branch": "M", "unit": "GeV"}, kind="Type")
    return DATA / "uproot-Zmumu.root", mapping, ["branch 'Type' holds strings", "columns.kind"]


def _fixed(tmp_path):
    path = flat_file(tmp_path / "x2.root", x2=np.arange(6.0).reshape(3, 2))
    expect = ["branch 'x2' is a fixed-size array", "double[2]", "{branch: 'x2', index: i}"]
    return path, flat_mapping(x2="x2"), expect


def _fixed_index_out_of_range(tmp_path):
    path = flat_file(tmp_path / "x2.root", x2=np.arange(6.0).reshape(3, 2))
    mapping = flat_mapping(x2={"branch": "x2", "index": 2})
    return (
        path,
        mapping,
        ["columns.x2.index is 2; it holds 2 values per event: use an index from 0 to 1"],
    )


def _flat_in_jets(tmp_path):
    values = {f"jet_{k}": np.array([1000.0, 1200.0]) for k in JETS}
    path = flat_file(tmp_path / "flatjets.root", **values)
    mapping = {"preset": "genhep", "label": None}
    expect = ["branch 'jet_pt' is one float64 per event", "kind: jets needs one number per jet"]
    return path, mapping, expect


def _bool_feature(tmp_path):
    path = flat_file(tmp_path / "b.root", m=np.array([1.0, 2.0]), isb=np.array([True, False]))
    mapping = flat_mapping(m="m", isb="isb")
    return path, mapping, ["branch 'isb' is bool", 'Define("isb_f", "float(isb)")']


def _bool_weight(tmp_path):
    path = write_jets_root(tmp_path / "w.root", JETS, extra={"w": np.array([True, True])})
    mapping = {"preset": "genhep", "label": None, "weight": "w"}
    return path, mapping, ["branch 'w' is bool", "files.mapping.weight"]


def _jagged_label(tmp_path):
    path = write_jets_root(tmp_path / "l.root", JETS, extra={"label": ak.Array([[1], [0]])})
    return path, "genhep", ["branch 'label' is jagged", "files.mapping.label needs one number"]


def _text_file(tmp_path):
    path = tmp_path / "notes.root"
    path.write_text("these are my notes\n")  # shorter than a ROOT header: not 'truncated'
    return path, "genhep", ["notes.root: not a ROOT file (it starts with the text 'these are"]


def _hdf5_file(tmp_path):
    path = tmp_path / "lhco.root"
    with h5py.File(path, "w") as f:
        f["x"] = [1.0]
    return path, "genhep", ["lhco.root: not a ROOT file (it is an HDF5 file", "lhco_rnd"]


def _empty_file(tmp_path):
    path = tmp_path / "empty.root"
    path.touch()
    return path, "genhep", ["empty.root: empty file"]


@pytest.mark.parametrize(
    "case",
    [
        _jagged,
        _string,
        _fixed,
        _fixed_index_out_of_range,
        _flat_in_jets,
        _bool_feature,
        _bool_weight,
        _jagged_label,
        _text_file,
        _hdf5_file,
        _empty_file,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_wrong_branch_types_and_non_root_files_fail_in_one_line(tmp_path, case):
    path, mapping, fragments = case(tmp_path)
    result, out, log = run_ingest(tmp_path, [path], mapping)
    assert_one_line_failure(result, "ingest", log, [out], str(path), *fragments)


def test_fixed_size_branch_with_an_index_and_a_bool_label_are_read(tmp_path):
    """The fixes the messages point to work: an element of a fixed-size branch by
    {branch, index}; a bool label (true = signal) is read as 1/0."""
    path = flat_file(
        tmp_path / "ok.root",
        x2=np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]),
        label=np.array([True, False, True]),
    )
    mapping = {**flat_mapping(second={"branch": "x2", "index": 1}), "label": "label"}
    result, out, _ = run_ingest(tmp_path, [path], mapping)
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["second"][...], [10.0, 20.0, 30.0])
        np.testing.assert_array_equal(f["label"][...], [1, 0, 1])


class _FakeBranch:
    def __init__(self, interpretation, typename):
        self.interpretation, self.typename = interpretation, typename


def test_delphes_fixed_size_per_jet_branch_needs_an_index():
    """uproot cannot write Delphes' jagged fixed-size 'FatJet.Tau[5]' (float[][5]): the
    check is fed its interpretation directly."""
    from uproot.interpretation.jagged import AsJagged
    from uproot.interpretation.numerical import AsDtype

    from genhep.io.mappings import Field
    from genhep.io.root import branch_type

    found = branch_type(_FakeBranch(AsJagged(AsDtype(np.dtype((">f4", (5,))))), "float[][5]"))
    assert found == BranchType(JAGGED_FIXED, "float[][5]", np.dtype("float32"), 5)
    assert found.describe() == ("is jagged with a fixed-size array per object (var * 5 * float32)")
    where = "files.mapping.jets.tau1"
    problem = _field_problem("jets", where, Field("FatJet.Tau[5]"), found)
    assert "{branch: 'FatJet.Tau[5]', index: i}, i from 0 to 4" in problem
    assert _field_problem("jets", where, Field("FatJet.Tau[5]", 2), found) is None
    assert "index is 5; it holds 5 values per jet" in _field_problem(
        "jets", where, Field("FatJet.Tau[5]", 5), found
    )


# --- item 4: too few events, said at preprocessing --------------------------------------


def run_preprocess(tmp_path, events, folds=None, params=PREPROCESS_PARAMS):
    outs = {s: tmp_path / "pre" / f"{s}.h5" for s in SPLITS}
    outs["transform"] = tmp_path / "pre" / "transform.json"
    log = tmp_path / "logs" / "preprocess.log"
    if folds is not None:
        params = {**params, "classifier_folds": folds}
    args = ["--features", events, "--params", json.dumps(params), "--log", log]
    for name, path in outs.items():
        args += [f"--{name}", path]
    return run_script("preprocess", *args), list(outs.values()), log


@pytest.mark.parametrize(
    ("n", "fragments"),
    [
        # The 50 events: trained and sampled, then the evaluation failed.
        (50, ["holds 50 events", "train 30, val 10, test 10", "test 14", "too small: test"]),
        (10, ["holds 10 events", "train 6, val 2, test 2", "too small: train, val, test"]),
    ],
)
def test_too_few_events_fail_at_preprocessing(tmp_path, n, fragments):
    feature_table(tmp_path / "events.h5", n=n)
    result, outs, log = run_preprocess(tmp_path, tmp_path / "events.h5", folds=5)
    common = ["too few events", "preprocess.split", "evaluate.folds = 5", "toy.n_events"]
    assert_one_line_failure(result, "preprocess", log, outs, *common, *fragments)


def test_the_test_split_floor_is_what_the_evaluation_needs():
    """classifier_events_needed(folds) events per class run the classifier test with
    both classifiers, one fewer does not (sklearn's stratified early-stopping split)."""
    from genhep import metrics

    rng = np.random.default_rng(0)
    for folds in (2, 3, 5, 10):
        n = classifier_events_needed(folds)
        a, b = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        for method in ("gbdt", "mlp"):
            assert 0 <= metrics.classifier_auc(a, b, method=method, folds=folds) <= 1
            with pytest.raises(ValueError):
                metrics.classifier_auc(a[:-1], b[:-1], method=method, folds=folds)
    assert min_test_events(5) == 14 and min_test_events(0) == 4


def evaluate_truth(tmp_path, test):
    """The truth-vs-truth evaluation of a test split: (result, its metrics file, its log)."""
    metrics, log = tmp_path / "eval" / "truth.json", tmp_path / "logs" / "ev.log"
    params = json.dumps(EVALUATE_PARAMS)
    result = run_stage(
        EVALUATE_TRUTH, "--test", test, "--params", params, "--metrics", metrics, "--log", log
    )
    return result, metrics, log


def test_evaluation_checks_a_test_split_made_without_the_check(tmp_path):
    """A test split preprocessed without the classifier folds (or before evaluate.folds was
    raised):
    the evaluation says so before fitting anything."""
    feature_table(tmp_path / "events.h5", n=120)
    params = {**PREPROCESS_PARAMS, "split": {"train": 0.5, "val": 0.4, "test": 0.1}}
    result, outs, _ = run_preprocess(tmp_path, tmp_path / "events.h5", params=params)
    assert result.returncode == 0, result.stderr
    test = outs[2]
    result, metrics, log = evaluate_truth(tmp_path, test)
    assert_one_line_failure(
        result,
        "evaluate_truth",
        log,
        [metrics],
        f"{test}: the test split holds",
        "per half, but the classifier test with evaluate.folds = 5 needs 7 per half",
        "preprocess.split.test",
    )


# --- item 5: damaged inputs are named, with how to regenerate them ----------------------


def _nan_in_events(path):
    with h5py.File(path, "r+") as f:
        f["mjj"][3] = np.nan
    return ["is damaged (column 'mjj' holds 1 NaN or infinite value(s) of 200)"]


def _inf_in_events(path):
    with h5py.File(path, "r+") as f:
        f["tau21_min"][0] = np.inf
    return ["is damaged (column 'tau21_min' holds 1 NaN"]


def _truncated_events(path):
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    return ["is damaged (not a readable HDF5 file"]


def _empty_events(path):
    path.write_bytes(b"")
    return ["is damaged (empty file)"]


@pytest.mark.parametrize(
    "damage",
    [_nan_in_events, _inf_in_events, _truncated_events, _empty_events],
    ids=lambda f: f.__name__.strip("_"),
)
def test_damaged_feature_table_fails_preprocessing_and_says_how_to_regenerate(tmp_path, damage):
    events = tmp_path / "events.h5"
    feature_table(events, n=200)
    fragments = damage(events)
    for _ in range(2):  # a rerun says the same: nothing was written the first time
        result, outs, log = run_preprocess(tmp_path, events, folds=5)
        assert_one_line_failure(
            result, "preprocess", log, outs, str(events), *fragments, "-R ingest"
        )


def _nan_bounds(path):
    with h5py.File(path, "r+") as f:
        pre = json.loads(f.attrs["transform"])
        pre["features"]["steps"][0]["lo"][0] = float("nan")
        f.attrs["transform"] = json.dumps(pre)
    return ["minmax lo [nan,", "is not finite"]


def _no_events(path):
    with h5py.File(path, "r+") as f:
        for name in list(f):
            data = f[name][...]
            del f[name]
            f.create_dataset(name, data=data[:0])
    return ["it holds no events"]


def _nan_feature(path):
    with h5py.File(path, "r+") as f:
        f["features"][0, 1] = np.nan
    return ["column 'features' holds 1 NaN"]


def _truncated_split(path):
    blob = path.read_bytes()
    path.write_bytes(blob[:200])
    return ["not a readable HDF5 file"]


@pytest.fixture(scope="module")
def clean_splits(tmp_path_factory):
    """A preprocessed feature table (the preprocess stage runs once for the tests below)."""
    tmp = tmp_path_factory.mktemp("clean")
    feature_table(tmp / "events.h5", n=200)
    result, outs, _ = run_preprocess(tmp, tmp / "events.h5", folds=5)
    assert result.returncode == 0, result.stderr
    return tmp, outs


@pytest.mark.parametrize(
    "damage",
    [_nan_bounds, _no_events, _nan_feature, _truncated_split],
    ids=lambda f: f.__name__.strip("_"),
)
def test_damaged_split_is_refused_naming_the_damage(tmp_path, clean_splits, damage):
    """The split contract's reader names the file, what is wrong and how to remake it."""
    test = tmp_path / "test.h5"
    shutil.copy(clean_splits[1][2], test)
    fragments = damage(test)
    with pytest.raises(GenhepError) as err:
        load_split(test)
    for fragment in [f"{test} is damaged", *fragments, "-R preprocess"]:
        assert fragment in str(err.value)


def test_damaged_split_fails_the_stage_reading_it(tmp_path, clean_splits):
    """A stage reading a damaged split fails with that one line and writes nothing."""
    outs = clean_splits[1]
    test = tmp_path / "test.h5"
    shutil.copy(outs[2], test)
    fragments = _nan_feature(test)
    result, metrics, log = evaluate_truth(tmp_path, test)
    assert_one_line_failure(
        result, "evaluate_truth", log, [metrics], f"{test} is damaged", *fragments, "-R preprocess"
    )


def test_transform_json_with_nan_bounds_is_refused(tmp_path):
    feature_table(tmp_path / "events.h5", n=200)
    outs = {s: tmp_path / f"{s}.h5" for s in SPLITS}
    preprocess(tmp_path / "events.h5", outs, tmp_path / "transform.json")
    d = json.loads((tmp_path / "transform.json").read_text())
    d["context"]["steps"][0]["std"] = [float("nan")]
    (tmp_path / "transform.json").write_text(json.dumps(d))
    with pytest.raises(GenhepError, match=r"transform.json is damaged .*standardize std \[nan\]"):
        Preprocessor.load(tmp_path / "transform.json")


def test_an_unexpected_exception_leaves_its_traceback_in_the_log_and_one_line(tmp_path):
    feature_table(tmp_path / "events.h5", n=200)
    # A seed that is no number (the schema would refuse it; the stage takes it as it
    # comes): a TypeError inside the stage, not a GenhepError.
    params = {**PREPROCESS_PARAMS, "seed": "seven"}
    result, outs, log = run_preprocess(tmp_path, tmp_path / "events.h5", params=params)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "TypeError" in result.stderr
    assert "Traceback" in log.read_text()


# --- item 6: a full disk ----------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(directory, size="64k"):
    """A tmpfs of ``size`` mounted on ``directory`` (root only), unmounted afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the monkeypatched tests cover ENOSPC")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def _ingest_stage(tmp_path, full):
    from genhep.data.toy import write_root
    from genhep.settings.data import ToySettings

    write_root(ToySettings(n_events=20_000, seed=1), tmp_path / "toy.root")
    out, log = full / "events.h5", tmp_path / "logs" / "ingest.log"
    params = json.dumps({"mapping": "genhep"})
    args = ["--params", params, "--roots", tmp_path / "toy.root", "--features", out]
    return run_script("ingest", *args, "--log", log), [out], log, out


def _preprocess_stage(tmp_path, full):
    feature_table(tmp_path / "events.h5", n=20_000)
    outs = {s: full / f"{s}.h5" for s in SPLITS}
    outs["transform"] = full / "transform.json"
    log = tmp_path / "logs" / "preprocess.log"
    params = json.dumps({**PREPROCESS_PARAMS, "classifier_folds": 5})
    args = ["--features", tmp_path / "events.h5", "--params", params]
    for name, path in outs.items():
        args += [f"--{name}", path]
    result = run_script("preprocess", *args, "--log", log)
    return result, list(outs.values()), log, full


@pytest.mark.parametrize("stage", [_ingest_stage, _preprocess_stage], ids=["ingest", "preprocess"])
def test_full_disk_is_one_line_and_leaves_no_temporary(tmp_path, stage):
    with small_tmpfs(tmp_path / "full") as full:
        result, outs, log, where = stage(tmp_path, full)
        name = stage.__name__.split("_")[1]
        assert_one_line_failure(
            result, name, log, outs, "no space left on device while writing", str(where)
        )
        assert not list(full.iterdir())  # no temporary, no output


def test_torch_save_on_a_full_disk(tmp_path):
    torch = pytest.importorskip("torch")
    with small_tmpfs(tmp_path / "full") as full:
        target = full / "model.pt"
        with pytest.raises(GenhepError, match=f"no space left on device while writing {target}"):
            with atomic_path(target) as tmp:
                torch.save({"w": torch.zeros(100_000)}, tmp)
        assert not list(full.iterdir())


@pytest.mark.parametrize(
    ("error", "free", "mapped"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 1 << 40, True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), 1 << 40, True),
        (RuntimeError("Can't synchronously write data (file write failed: ...)"), 0, True),
        (RuntimeError("basic_ios::clear: iostream error"), 100, True),
        (RuntimeError("basic_ios::clear: iostream error"), 1 << 40, False),  # not a full disk
        (OSError(errno.EIO, "Input/output error"), 0, False),
    ],
)
def test_disk_full_errors_are_mapped_only_when_the_disk_is_full(
    tmp_path, monkeypatch, error, free, mapped
):
    monkeypatch.setattr(atomic, "free_bytes", lambda directory: free)
    target = tmp_path / "out.h5"
    with pytest.raises(GenhepError if mapped else type(error)) as raised:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise error
    if mapped:
        assert f"no space left on device while writing {target} (" in str(raised.value) or (
            f"disk quota exceeded while writing {target} (" in str(raised.value)
        )
    assert not list(tmp_path.iterdir())
