"""One trainer per checkpoint: an exclusive ``flock`` on ``<checkpoint>.lock``.

Two trainers on one checkpoint (a Snakemake killed and rerun while its orphaned job
still trains, a job started by hand next to a workflow's) would overwrite each other's
checkpoint and outputs. The first takes an exclusive, non-blocking ``flock`` on a lock
file next to the checkpoint and writes its PID (and host) into it; a second one refuses
at once, naming that PID. The kernel drops the lock of a process that ends, however it
ends (SIGKILL included), so a dead trainer never blocks the next one.

The holder removes the lock file when it lets go; a process that locked a file just
unlinked by its holder sees that (the path no longer names the inode it locked) and
tries again, so removing the file never lets two holders in.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from genhep.errors import GenhepError

# Locks this process holds, by lock file: taking one again (the CLI, then the library
# under it) is a no-op, not a refusal by ourselves (flocks of two open files conflict
# even within one process).
_held: dict[Path, int] = {}


def lock_path(checkpoint: str | os.PathLike) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".lock")


@contextlib.contextmanager
def checkpoint_lock(checkpoint: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of ``checkpoint`` for the block, or raise GenhepError naming the
    process that holds it. Re-entrant within one process. Yields the lock file."""
    path = lock_path(checkpoint).absolute()
    if path in _held:
        _held[path] += 1
        try:
            yield path
        finally:
            _held[path] -= 1
        return
    fd = _acquire(path, checkpoint)
    _held[path] = 1
    try:
        yield path
    finally:
        del _held[path]
        # Unlinked while still locked: a waiter that opened this inode sees it gone.
        with contextlib.suppress(OSError):
            if _same_file(fd, path):
                path.unlink()
        os.close(fd)  # releases the flock


def _acquire(path: Path, checkpoint: str | os.PathLike) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(50):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not _same_file(fd, path):  # its holder just removed it: try again
                os.close(fd)
                continue
            holder = _read_holder(fd)
            os.close(fd)
            raise GenhepError(
                f"another trainer ({holder}) is training on {checkpoint}; wait for it or kill it"
            ) from None
        if not _same_file(fd, path):  # locked an inode its holder removed: try again
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        return fd
    raise GenhepError(f"could not take the lock {path} (it keeps being replaced)")


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _read_holder(fd: int) -> str:
    """'PID 1234' (and ' on <host>' when not this one) from the lock file. The holder
    writes it right after locking: a moment's wait covers that gap."""
    text = ""
    for _ in range(20):
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if text:
            break
        time.sleep(0.05)
    if not text:
        return "PID unknown"
    pid, _, host = text.partition(" ")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"PID {pid}{where}"
