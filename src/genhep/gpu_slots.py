"""One GPU per job on a workstation with several: a lock-file slot per visible GPU.

Snakemake's ``--resources gpu=N`` caps how many GPU jobs run at once, but says nothing
about *which* GPU each uses: without help they would all start on device 0. A GPU
stage therefore claims a slot before torch touches CUDA: it takes an exclusive
``flock`` on ``<lock dir>/gpu-<id>.lock`` for the first free visible GPU and restricts
itself to it with ``CUDA_VISIBLE_DEVICES``. The lock is released when the process ends,
however it ends (the kernel drops flocks of a dead process), so a crash frees its GPU.

Visible GPUs are those in an existing ``CUDA_VISIBLE_DEVICES`` (as a batch system sets
it: then there is usually one, and nothing needs doing), else those ``nvidia-smi -L``
lists.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

log = logging.getLogger("genhep")


def visible_gpus(env: Mapping[str, str] | None = None, nvidia_smi: str | None = None) -> list[str]:
    """The GPU ids this process may use (strings: indices or UUIDs)."""
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        return [d.strip() for d in env["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    smi = nvidia_smi or shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def default_lock_dir() -> Path:
    return Path(os.environ.get("GENHEP_GPU_LOCK_DIR", f"/tmp/genhep-gpu-locks-{os.getuid()}"))


@contextlib.contextmanager
def claim_gpu(
    gpus: list[str],
    lock_dir: str | os.PathLike | None = None,
    timeout: float = 24 * 3600,
    poll: float = 2.0,
) -> Iterator[str | None]:
    """Hold the first free GPU of ``gpus`` for the block; yields its id (None if no GPUs).

    Waits, polling, while every GPU is held by another job (more GPU jobs than GPUs:
    ``--resources gpu=N`` larger than the GPU count).
    """
    if not gpus:
        yield None
        return
    lock_dir = Path(lock_dir or default_lock_dir())
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        for gpu in gpus:
            handle = open(lock_dir / f"gpu-{gpu}.lock", "a+")  # noqa: SIM115 (held below)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield gpu
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no free GPU among {gpus} after {timeout:.0f} s ({lock_dir})")
        time.sleep(poll)


@contextlib.contextmanager
def gpu_for_this_job() -> Iterator[str | None]:
    """For a GPU stage: with several visible GPUs, claim one and make it the only one
    torch sees (before CUDA is initialised). A no-op with zero or one GPU."""
    gpus = visible_gpus()
    if len(gpus) <= 1:
        yield gpus[0] if gpus else None
        return
    with claim_gpu(gpus) as gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        log.info("GPU slot: this job uses GPU %s of %s", gpu, ",".join(gpus))
        yield gpu
