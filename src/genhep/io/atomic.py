"""Atomic output files: write to a temporary sibling, rename only on success.

A crash, a SIGTERM from a batch system or a raised error never leaves a half-written
file where a downstream rule would take it for a finished one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Same directory, so the final os.replace is a rename on one file system.
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    _remove_stale_temporaries(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _remove_stale_temporaries(final: Path) -> None:
    """Temporaries of ``final`` left by a process that no longer runs (a SIGKILL gives no
    chance to clean up): removed, so a killed job leaves no litter after its rerun."""
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
