import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from genhep import cli
from genhep.io.atomic import atomic_path
from genhep.io.hdf5 import TableWriter, write_attrs

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
DATA = Path(__file__).resolve().parent / "data"


def env_with_venv():
    """The environment for subprocesses: this interpreter's bin first, as `make` does."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The HTCondor executor plugin warns on every start without a pool's config file.
    env.setdefault("CONDOR_CONFIG", "/dev/null")
    return env


def run_script(stage, *args, cwd=None):
    return subprocess.run(
        [sys.executable, str(SCRIPTS / f"{stage}.py"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env_with_venv(),
        cwd=cwd,
    )


def run_stage(stage, *args):
    """A stage script's command line, run in this process (``genhep.cli.main``): the same
    parsing, checks, error line and exit code as ``run_script`` without a new interpreter
    importing torch (seconds per call). Returns a CompletedProcess (stdout empty)."""
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err):
        try:
            cli.main(stage, [str(a) for a in args])
        except SystemExit as stop:
            code = stop.code
    return subprocess.CompletedProcess(args, code, "", err.getvalue())


def write_jets_root(path, jets, label=None, tree="events", prefix="jet_", extra=None):
    """Write per-event jet lists ({field: list of lists}) as a TTree with jagged branches."""
    arrays = {f"{prefix}{k}": ak.Array(v) for k, v in jets.items()}
    if label is not None:
        arrays["label"] = np.asarray(label, dtype=np.int32)
    arrays.update(extra or {})
    with uproot.recreate(path) as f:
        t = f.mktree(
            tree,
            {
                k: (v.type.content if isinstance(v, ak.Array) else v.dtype)
                for k, v in arrays.items()
            },
        )
        t.extend(arrays)
    return path


@pytest.fixture
def small_event_file(tmp_path):
    """Three events in GeV: two ordinary ones and one with a single jet."""
    jets = {
        "pt": [[1000.0, 900.0, 50.0], [1200.0, 1100.0], [1500.0]],
        "eta": [[0.1, -0.4, 1.0], [0.0, 0.3], [0.2]],
        "phi": [[0.0, 3.0, 1.0], [1.0, -2.0], [0.0]],
        "mass": [[100.0, 300.0, 10.0], [500.0, 80.0], [200.0]],
        "tau1": [[0.4, 0.5, 0.1], [0.3, 0.2], [0.5]],
        "tau2": [[0.2, 0.1, 0.05], [0.1, 0.15], [0.2]],
        "tau3": [[0.1, 0.05, 0.02], [0.05, 0.1], [0.1]],
    }
    return write_jets_root(tmp_path / "small.root", jets, label=[0, 1, 0])


def feature_table(path, n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    mjj = 2.5 + rng.exponential(0.5, n)
    cols = {
        "mjj": mjj,
        "mj_min": 0.03 * mjj * rng.lognormal(0, 0.5, n),
        "delta_mj": rng.exponential(0.05, n),
        "tau21_min": rng.beta(6, 3, n),
        "tau21_max": rng.beta(6, 3, n),
        "label": (rng.random(n) < 0.01).astype(np.int32),
    }
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        TableWriter(f, {"mjj": "TeV"}).append(cols)
        write_attrs(f, {"columns": list(cols), "events_kept": n})
    return cols
