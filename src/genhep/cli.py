r"""Shared plumbing of the stage scripts: logging to the rule's log, one clear error line,
one trainer per checkpoint, and no stage outliving the Snakemake that started it.

**Orphans.** A Snakemake killed with SIGKILL (``kill -9``, the OOM killer, a lost login
session) cannot stop its jobs: a stage it started is re-parented and runs on. A training
job would then train to the end (or hold its GPU for hours) while the rerun that follows
``snakemake --unlock`` starts a second trainer on the same checkpoint. Every stage
therefore watches the Snakemake that started it and, once it is gone, sends itself
SIGTERM, as a batch system would: the trainer writes its checkpoint at the next batch
boundary and exits 143 (the rerun resumes from it); other stages end at once, their
outputs never half-written (``genhep.io.atomic``).

How the watcher finds it. Snakemake 9 runs a local shell rule as ``/bin/bash -c 'set
-euo pipefail; python script.py ...'`` from a job thread; bash 5.1 and later (5.2 here)
exec the last command of such a line, so a run's process tree is (``ps -ef --forest``)::

    python .venv/bin/snakemake --cores all ...
     \_ python workflow/scripts/train.py --params {"family": "nsf", ...} ...

With an older bash (4.4 on EL8), or a rule of several commands, the shell stays in
between; on a cluster node the stage's parent is the job's ``python -m snakemake ...
--mode remote``. The watcher walks up the parent PIDs to the first process whose command
line is Snakemake's (looked up when the script imports this module, before torch's
seconds of imports), and waits for it to end: on a pidfd, which a later process reusing
the PID cannot fool, else by checking the PID and its start time every 2 s. No Snakemake
among the ancestors (a stage run by hand): no watcher.

Why not ``prctl(PR_SET_PDEATHSIG)``: it fires when the *direct parent* dies, which is
Snakemake only where bash happened to exec the command (not with an older bash or a
multi-command rule: then the surviving shell is the parent), and it fires when the
parent's *thread* that forked ends, not its process: tying a job's life to one of
Snakemake's threads is an implementation detail of Snakemake. The pidfd watcher reacts
as fast and covers every case above.

**One trainer per checkpoint.** A stage with a ``--checkpoint`` (training) takes that
checkpoint's lock (``genhep.locks``) before anything else, its log included: a second
trainer on the same checkpoint stops with one error line naming the first's PID and
writes nothing, not even over the first one's log. (``Trainer.fit`` takes the lock too,
for every training with a checkpoint; under the stage that is a no-op, the lock being
re-entrant.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from threadpoolctl import threadpool_limits

from genhep.errors import GenhepError, Interrupted
from genhep.gpu_slots import gpu_for_this_job
from genhep.locks import checkpoint_lock
from genhep.stage import Stage, files

log = logging.getLogger("genhep")


def json_arg(text: str):
    """argparse type: a JSON document given on the command line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--log", type=Path, help="log file (the rule's log:); default: stderr only")
    return p


def _setup_logging(log_path: Path | None) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    stderr = logging.StreamHandler(sys.stderr)
    # In a workflow the log file has the details; the console gets warnings and errors.
    stderr.setLevel(logging.WARNING if log_path else logging.INFO)
    stderr.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(stderr)
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)


def run(
    stage: str,
    main: Callable[[argparse.Namespace], None],
    args: argparse.Namespace,
    gpu: bool = False,
) -> None:
    """Run ``main(args)``; a GenhepError becomes one line on stderr (and in the log), exit 1.

    ``gpu``: a stage that may run torch on a GPU; with several GPUs visible it takes one
    of its own first (``genhep.gpu_slots``). An ``args.checkpoint`` is locked for the
    whole run, before the log is opened. Under Snakemake the stage stops (SIGTERM to
    itself) when Snakemake is gone (see the module's docstring).
    """
    checkpoint = getattr(args, "checkpoint", None)
    with contextlib.ExitStack() as stack:
        if checkpoint:
            try:
                stack.enter_context(checkpoint_lock(checkpoint))
            except GenhepError as err:
                _setup_logging(None)  # the log file is the running trainer's: left alone
                _fail(stage, err)
        _setup_logging(args.log)
        watch_snakemake()
        try:
            with gpu_for_this_job() if gpu else contextlib.nullcontext():
                main(args)
        except GenhepError as err:
            _fail(stage, err)
        except Interrupted as stop:
            log.warning("genhep %s: %s", stage, stop)
            sys.exit(143)  # 128 + SIGTERM: the batch system sees a terminated job
        except Exception as err:  # a bug, or a failure genhep does not name yet
            _crash(stage, err, args.log)


def stage_parser(stage: Stage) -> argparse.ArgumentParser:
    """The command line of a stage script, from the stage's declaration: ``--params``
    (its settings, one JSON document), ``--NAME PATH`` for each of its files,
    ``--threads`` and ``--log``."""
    p = parser(stage.description)
    p.add_argument("--params", type=json_arg, default={}, help="the stage's settings (JSON)")
    for kind, specs in (("input", stage.input_specs), ("output", stage.output_specs)):
        for spec in specs:
            p.add_argument(
                spec.option,
                dest=spec.name,
                type=Path,
                nargs="+" if spec.many else None,
                required=not spec.optional,
                help=f"{kind} file{'s' if spec.many else ''}",
            )
    p.add_argument("--threads", type=int, default=1, help="CPU threads (torch, BLAS)")
    return p


def main(stage: Stage, argv: list[str] | None = None) -> None:
    """Run a stage from its script's command line (``stage_parser``): its settings are
    checked (an unknown key is an error naming it) and its threads set before ``run``."""
    args = stage_parser(stage).parse_args(argv)

    def job(args: argparse.Namespace) -> None:
        settings = stage.load_settings(args.params)
        values = vars(args)
        inputs = files(stage.input_specs, values)
        outputs = files(stage.output_specs, values)
        with _thread_limit(args.threads):
            stage.run(settings, inputs, outputs)

    run(stage.name, job, args, gpu=stage.gpu)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def _thread_limit(threads: int):
    """The job's threads for torch and for the BLAS/OpenMP pools (scikit-learn's ignore
    torch's setting and would otherwise oversubscribe the cores the scheduler gave). The
    environment variables cover the libraries a stage loads later (torch imported inside
    a function reads OMP_NUM_THREADS), as Snakemake sets them for its jobs. Restored on
    exit, for a stage run in process."""
    saved_env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    torch = sys.modules.get("torch")
    saved_torch = torch.get_num_threads() if torch else None
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    if torch:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if torch:
            torch.set_num_threads(saved_torch)


def _fail(stage: str, err: GenhepError) -> None:
    # One line: messages from uproot and friends can span several.
    log.error("genhep %s: error: %s", stage, " ".join(str(err).split()))
    sys.exit(1)


def _crash(stage: str, err: Exception, log_path: Path | None) -> None:
    """Not a GenhepError: the traceback goes to the log (to stderr when there is no log:
    the console handler is at INFO then), the console gets one line; exit 1."""
    log.info("unexpected error in genhep %s:", stage, exc_info=err)
    where = f"the traceback is in {log_path}" if log_path else "traceback above"
    log.error(
        "genhep %s: unexpected error: %s: %s (%s)",
        stage,
        type(err).__name__,
        " ".join(str(err).split())[:500],
        where,
    )
    sys.exit(1)


# --- the Snakemake watcher ------------------------------------------------------------

_PROC = Path("/proc")


def _stat_fields(pid: int, proc: Path = _PROC) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (fields[1] = ppid,
    fields[19] = start time), or None where the process is gone."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parens


def _is_snakemake(argv: list[str]) -> bool:
    """``snakemake ...``, ``python .../bin/snakemake ...`` or ``python -m snakemake ...``."""
    if not argv or not argv[0]:
        return False
    program = Path(argv[0]).name
    if program == "snakemake":
        return True
    return program.startswith("python") and (
        Path(argv[1] if len(argv) > 1 else "").name == "snakemake"
        or argv[1:3] == ["-m", "snakemake"]
    )


def _stop_self() -> None:
    """SIGTERM to this process: what a batch system sends a job it stops."""
    os.kill(os.getpid(), signal.SIGTERM)


def snakemake_ancestor(pid: int | None = None, proc: Path = _PROC) -> int | None:
    """The nearest ancestor of ``pid`` (default: this process) that is a Snakemake."""
    pid = os.getpid() if pid is None else pid
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        fields = _stat_fields(pid, proc)
        if fields is None:
            return None
        pid = int(fields[1])
        try:
            argv = (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return None
        if pid > 1 and _is_snakemake(argv.split("\0")):
            return pid
    return None


def _snakemake_identity() -> tuple[int, str] | None:
    """(PID, start time) of the Snakemake above this process, or None."""
    if not sys.platform.startswith("linux"):
        return None
    pid = snakemake_ancestor()
    fields = None if pid is None else _stat_fields(pid)
    return None if fields is None else (pid, fields[19])


# Looked up when the stage script imports this module, before its heavy imports (torch
# takes seconds): a Snakemake killed while the stage starts up is then still noticed.
_SNAKEMAKE = _snakemake_identity()


def watch_snakemake(
    snakemake: tuple[int, str] | None = _SNAKEMAKE, poll: float = 2.0
) -> threading.Thread | None:
    """Under Snakemake, a daemon thread that sends this process SIGTERM once the
    Snakemake that started it (``(pid, start time)``) has ended. Returns the thread, or
    None (no Snakemake among the ancestors, or not Linux)."""
    if snakemake is None:
        return None
    pid, started = snakemake

    def running() -> bool:
        # The same process (a reused PID has another start time), and not a zombie that
        # its parent has yet to reap.
        now = _stat_fields(pid)
        return now is not None and now[19] == started and now[0] not in "ZX"

    pidfd = None
    with contextlib.suppress(AttributeError, OSError):  # no pidfds, or already gone
        pidfd = os.pidfd_open(pid)
    if pidfd is not None and not running():  # gone, the PID maybe reused, before we opened it
        os.close(pidfd)
        pidfd = None

    def gone() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable once the process has ended
        else:
            while running():
                time.sleep(poll)
        log.warning(
            "Snakemake (PID %d) is gone: stopping this job (SIGTERM), as a batch system would",
            pid,
        )
        _stop_self()

    thread = threading.Thread(target=gone, name="genhep-snakemake-watcher", daemon=True)
    thread.start()
    log.info("watching Snakemake (PID %d): this job stops if it is killed", pid)
    return thread
