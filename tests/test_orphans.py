"""No orphaned stage outlives a killed Snakemake, and one trainer per checkpoint."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml

from conftest import REPO, env_with_venv, run_script
from genhep import cli
from genhep.errors import GenhepError
from genhep.layout import TRAINING_FILES
from genhep.locks import checkpoint_lock
from genhep.models import load_model

HOLD_LOCK = """
import sys, time
from genhep.locks import checkpoint_lock
with checkpoint_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""


def ended(process):
    """Exited (a zombie counts: who reaps an orphan is up to PID 1)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_second_trainer_on_a_checkpoint_is_refused_naming_the_first_and_writes_nothing(
    tmp_path,
):
    ckpt = tmp_path / "checkpoints" / "maf.pt"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(ckpt)],
        env=env_with_venv(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        log = tmp_path / "train.log"
        log.write_text("the first trainer's log\n")
        before = sorted(p.name for p in tmp_path.rglob("*"))
        # The lock comes first: the inputs are not even read (they do not exist).
        result = run_script(
            "train",
            *("--params", '{"family": "maf"}', "--train", tmp_path / "no.h5"),
            *("--val", tmp_path / "no.h5"),
            *(x for name, file in TRAINING_FILES.items() for x in (f"--{name}", tmp_path / file)),
            *("--checkpoint", ckpt, "--log", log),
        )
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"genhep train: error: another trainer (PID {holder.pid}) is training on "
            f"{ckpt}; wait for it or kill it"
        )
        assert log.read_text() == "the first trainer's log\n"
        assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
        with pytest.raises(GenhepError, match=f"another trainer \\(PID {holder.pid}\\)"):
            with checkpoint_lock(ckpt):
                pass
    finally:
        holder.kill()  # SIGKILL: no chance to let go; the kernel drops its flock
        holder.wait()
    with checkpoint_lock(ckpt) as lock:
        assert lock.read_text().split()[0] == str(os.getpid())
        with checkpoint_lock(ckpt):  # re-entrant: the CLI, then the library under it
            pass
        assert lock.exists()
    assert not lock.exists()  # removed by its holder on release


FAKE_SNAKEMAKE = """
import subprocess, sys, time
# As Snakemake 9 runs a shell rule: bash -c with its prefix, from a thread of its own.
subprocess.Popen(["/bin/bash", "-c", "set -euo pipefail; " + sys.argv[1]])
time.sleep(600)
"""

STAGE = """
import os, signal, sys, time
from pathlib import Path
from genhep.cli import parser, run

def main(args):
    def stop(*_):
        Path(args.marker + ".stopped").write_text("SIGTERM")
        sys.exit(143)
    signal.signal(signal.SIGTERM, stop)
    Path(args.marker + ".started").write_text(str(os.getpid()))
    time.sleep(600)

p = parser("a stage that waits")
p.add_argument("marker")
run("test", main, p.parse_args())
"""


@pytest.mark.parametrize("shell_between", [False, True], ids=["bash-execs", "bash-between"])
def test_stage_stops_when_its_snakemake_is_killed(tmp_path, shell_between):
    """A fake Snakemake (a process named snakemake) runs a stage through bash -c, as the
    real one does; SIGKILLed, the stage gets SIGTERM from its watcher at once. Bash 5.2
    execs the stage (Snakemake is its parent); with a command after it, as in a rule of
    several commands or with bash 4.4, the shell stays in between."""
    (tmp_path / "snakemake").write_text(FAKE_SNAKEMAKE)
    (tmp_path / "stage.py").write_text(STAGE)
    marker = str(tmp_path / "stage")
    stage_cmd = f"{sys.executable} {tmp_path / 'stage.py'} {marker} --log {marker}.log"
    if shell_between:
        stage_cmd += "; echo done"
    fake = subprocess.Popen(
        [sys.executable, tmp_path / "snakemake", stage_cmd],
        env=env_with_venv(),
        start_new_session=True,
    )
    try:
        started = Path(marker + ".started")
        wait_for(started.exists, 60, "the stage to start")
        stage = psutil.Process(int(started.read_text()))
        assert (stage.ppid() == fake.pid) is not shell_between
        assert f"watching Snakemake (PID {fake.pid})" in Path(marker + ".log").read_text()
        fake.kill()
        fake.wait()
        t0 = time.monotonic()
        wait_for(lambda: ended(stage), 10, "the orphaned stage to end")
        assert time.monotonic() - t0 < 5
        assert Path(marker + ".stopped").read_text() == "SIGTERM"
        assert "Snakemake (PID" in Path(marker + ".log").read_text()
        # Nothing of the job is left: the shell ends once its stage has.
        wait_for(
            lambda: (
                not any(
                    p.info["cmdline"] and stage_cmd in " ".join(p.info["cmdline"])
                    for p in psutil.process_iter(["cmdline"])
                )
            ),
            10,
            "the job's shell to end",
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(fake.pid, signal.SIGKILL)  # whatever a failure left running


def test_watcher_polls_without_pidfds_and_takes_a_zombie_for_dead(monkeypatch):
    child = subprocess.Popen(["sleep", "60"])
    identity = (child.pid, cli._stat_fields(child.pid)[19])
    sent = []
    monkeypatch.delattr(os, "pidfd_open")
    monkeypatch.setattr(cli, "_stop_self", lambda: sent.append("SIGTERM"))
    thread = cli.watch_snakemake(identity, poll=0.05)
    time.sleep(0.2)
    assert thread.is_alive() and not sent
    child.send_signal(signal.SIGKILL)  # not reaped: a zombie until child.wait()
    thread.join(timeout=5)
    assert sent == ["SIGTERM"]
    child.wait()


def test_snakemake_ancestor_none_outside_snakemake_and_command_lines_recognised():
    assert cli.snakemake_ancestor() is None  # pytest is not run by Snakemake
    assert cli.watch_snakemake(None) is None
    for argv in (
        ["/venv/bin/python", "/venv/bin/snakemake", "--cores", "2"],
        ["/venv/bin/python3.11", "-m", "snakemake", "--mode", "remote"],
        ["snakemake", "--profile", "profiles/slurm"],
    ):
        assert cli._is_snakemake(argv)
    assert not cli._is_snakemake(["python", "train.py", "--log", "snakemake"])
    assert not cli._is_snakemake(["pytest", "-k", "snakemake"])


# --- end to end: Snakemake killed mid-training ------------------------------------------

MODEL = "results/models/maf/model.pt"
EPOCHS = 30


def _config(tiny):
    return {
        **tiny,
        # About 10 s of training (0.3 s an epoch here), in batches of 64 (57 an epoch).
        "train": {"families": ["maf"], "epochs": EPOCHS, "batch_size": 64, "patience": 0},
        "amplification": {**tiny["amplification"], "enabled": False},
        "cathode": {**tiny["cathode"], "enabled": False},
    }


def _trainers(workdir):
    """The train.py processes running in ``workdir``."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if (
                any(a.endswith("train.py") for a in p.info["cmdline"] or [])
                and p.cwd() == str(workdir)
                and not ended(p)
            ):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.mark.slow
def test_killed_snakemake_stops_its_trainer_and_the_rerun_resumes_to_the_same_weights(
    tmp_path,
):
    from test_workflow import TINY, snakemake

    config = _config(TINY)
    run, ref = tmp_path / "run", tmp_path / "ref"
    run.mkdir()
    ref.mkdir()
    (run / "run.yaml").write_text(yaml.safe_dump(config))
    cmd = [
        Path(sys.executable).parent / "snakemake",
        *("--snakefile", REPO / "workflow" / "Snakefile", "--directory", run),
        *("--configfile", run / "run.yaml", "--cores", "2", MODEL),
    ]
    ckpt = run / "results" / "checkpoints" / "maf.pt"
    with open(run / "killed.out", "w") as out:
        proc = subprocess.Popen(
            cmd, env=env_with_venv(), cwd=run, stdout=out, stderr=out, start_new_session=True
        )
    try:
        trainer = wait_for(lambda: ckpt.exists() and _trainers(run), 180, "training")[0]
        job = trainer.cmdline()
        proc.kill()  # SIGKILL to Snakemake alone: its job is orphaned
        proc.wait()
        wait_for(lambda: ended(trainer), 10, "the orphaned trainer to end")  # its watcher
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever a failure left running
    log = (run / "results" / "logs" / "train" / "maf.log").read_text()
    assert "is gone: stopping this job" in log and "stopped by SIGTERM" in log
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] < EPOCHS  # stopped part-way, its checkpoint written

    # The reference: the same job (the command line Snakemake gave it), uninterrupted, in
    # another directory; meanwhile, as the README says: --unlock (then rerun).
    args = dict(zip(job[2::2], job[3::2], strict=True))
    args.update({f"--{name}": ref / "model" / file for name, file in TRAINING_FILES.items()})
    args.update({"--checkpoint": ref / "ckpt.pt"})
    args.update({"--log": ref / "train.log"})
    args.update({k: run / args[k] for k in ("--train", "--val")})
    reference = subprocess.Popen(
        [sys.executable, job[1], *(str(x) for kv in args.items() for x in kv)],
        env=env_with_venv(),
        cwd=ref,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert snakemake(run, config, "--unlock").returncode == 0
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    with open(run / "rerun.out", "w") as out:
        rerun = subprocess.Popen(cmd, env=env_with_venv(), cwd=run, stdout=out, stderr=out)
    most = 0
    while rerun.poll() is None:  # never two trainers at once
        most = max(most, len(_trainers(run)))
        time.sleep(0.1)
    assert rerun.returncode == 0, (run / "rerun.out").read_text()[-3000:]
    assert most == 1
    assert "resumed from" in (run / "results" / "logs" / "train" / "maf.log").read_text()

    a, _ = load_model(ref / "model" / "model.pt")
    b, payload = load_model(run / MODEL)
    assert payload["info"]["resumed_from_epoch"] is not None
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not list(ckpt.parent.iterdir())  # no checkpoint, lock or temporary left
