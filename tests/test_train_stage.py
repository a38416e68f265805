"""The train stage as the workflow runs it: a real SIGTERM, then a resume."""

import json
import signal
import subprocess
import sys
import time

import h5py
import pytest
import torch

from conftest import SCRIPTS, env_with_venv
from genhep.io.atomic import atomic_path
from genhep.layout import TRAINING_FILES
from genhep.models import load_model
from genhep.transforms import Preprocessor, TransformChain

pytestmark = pytest.mark.slow

PARAMS = {
    "train": {"epochs": 40, "batch_size": 64, "lr": 1e-3, "patience": 0, "seed": 2},
    "model": {"hidden": 32},
}


def write_split(path, n, seed):
    g = torch.Generator().manual_seed(seed)
    pre = Preprocessor(TransformChain(["a", "b"], []), TransformChain(["m"], []))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["features"] = torch.randn(n, 2, generator=g).numpy()
        f["context"] = torch.rand(n, 1, generator=g).numpy()
        f["row"] = torch.arange(n).numpy()  # a split file's rows in the feature table
        f.attrs["transform"] = pre.to_json()


def train_cmd(tmp_path, outdir, checkpoint):
    outputs = [x for name, file in TRAINING_FILES.items() for x in (f"--{name}", outdir / file)]
    return [
        sys.executable,
        SCRIPTS / "train.py",
        "--params",
        json.dumps({"family": "maf", **PARAMS}),
        "--train",
        tmp_path / "train.h5",
        "--val",
        tmp_path / "val.h5",
        *outputs,
        "--checkpoint",
        checkpoint,
        "--log",
        outdir.with_suffix(".log"),
    ]


def test_sigterm_checkpoints_and_a_rerun_resumes_to_the_same_weights(tmp_path):
    write_split(tmp_path / "train.h5", 4000, 1)
    write_split(tmp_path / "val.h5", 1000, 2)
    ref = subprocess.run(
        train_cmd(tmp_path, tmp_path / "ref", tmp_path / "ref.pt"),
        env=env_with_venv(),
        capture_output=True,
        text=True,
    )
    assert ref.returncode == 0, ref.stderr

    ckpt = tmp_path / "ckpt.pt"
    proc = subprocess.Popen(
        train_cmd(tmp_path, tmp_path / "run", ckpt),
        env=env_with_venv(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:  # the first epoch's checkpoint
        time.sleep(0.05)
    assert ckpt.exists(), "no checkpoint appeared"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "stopped by SIGTERM" in stderr and "a rerun resumes" in stderr
    assert not (tmp_path / "run" / "model.pt").exists()
    state = torch.load(ckpt, weights_only=True)
    assert 0 < state["epoch"] * 63 + state["batch"] < 40 * 63  # stopped part-way

    resumed = subprocess.run(
        train_cmd(tmp_path, tmp_path / "run", ckpt),
        env=env_with_venv(),
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in (tmp_path / "run.log").read_text()
    a, _ = load_model(tmp_path / "ref" / "model.pt")
    b, info = load_model(tmp_path / "run" / "model.pt")
    assert info["info"]["resumed_from_epoch"] is not None
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not ckpt.exists()  # finished runs leave no checkpoint
    # ... nor its lock, nor a temporary (their names are the process's own: .ckpt.pt.tmp-PID)
    assert not list(tmp_path.glob("ckpt.pt*")) and not list(tmp_path.glob(".ckpt.pt.tmp*"))
