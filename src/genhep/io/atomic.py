"""Atomic output files: write to a temporary sibling, rename only on success.

A crash, a SIGTERM from a batch system or a raised error never leaves a half-written
file where a downstream rule would take it for a finished one.

A full disk (or an exhausted quota) while writing is reported as one GenhepError,
"no space left on device while writing <path>", with the temporary removed: ``OSError``
with errno ENOSPC/EDQUOT anywhere in the exception's chain, h5py's errors whose message
says "No space left on device", and errors without an errno (torch.save's RuntimeError
"basic_ios::clear: iostream error", h5py's "Can't write data", ...) when the file system of
the output holds (almost) no free space.

HDF5 cannot recover from a write that fails for want of space: its caches fail in
destructors (tracebacks on stderr that no ``except`` sees), closing the file fails, and
the process crashes at exit (h5py issues #914, #2160). Writers of HDF5 files therefore
call :func:`reserve` before each write, which raises ENOSPC while HDF5 is still intact
(genhep.io.hdf5.TableWriter, genhep.contracts.write_split_file). Only a disk that another
process fills between that check and the write still reaches HDF5's failure.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from genhep.errors import GenhepError

# Below this many free bytes a write error without an errno is taken for a full disk.
NEARLY_FULL_BYTES = 1 << 20
# What HDF5 may still write for a file besides the data at hand: its chunk cache (1 MiB
# per dataset, by default) and metadata.
HDF5_OVERHEAD_BYTES = 1 << 20


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds."""
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _raise_if_disk_full(err, final, final.parent)
        raise
    # Same directory, so the final os.replace is a rename on one file system.
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    _remove_stale_temporaries(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as err:
        # Whether the disk is full is judged before the temporary frees its space.
        full = disk_full_reason(err, final.parent)
        tmp.unlink(missing_ok=True)
        if full:
            free = free_bytes(final.parent)
            raise GenhepError(
                f"{full} while writing {final} ({_size(free)} free there now)"
            ) from err
        raise


def _raise_if_disk_full(err: BaseException, final: Path, directory: Path) -> None:
    full = disk_full_reason(err, directory)
    if full:
        raise GenhepError(f"{full} while writing {final}") from err


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def disk_full_reason(err: BaseException, directory: str | os.PathLike) -> str | None:
    """ "no space left on device" (or "disk quota exceeded") if ``err`` comes from a full
    file system under ``directory``, else None. Errors without an errno count only when
    the file system is nearly full (see the module docstring)."""
    if isinstance(err, GenhepError | KeyboardInterrupt | SystemExit):
        return None
    ambiguous = False
    for e in _chain(err):
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return "no space left on device"
        if isinstance(e, OSError) and e.errno == errno.EDQUOT:
            return "disk quota exceeded"
        text = str(e)
        if "No space left on device" in text or "no space left on device" in text:
            return "no space left on device"
        if isinstance(e, OSError | RuntimeError) and (
            "iostream error" in text
            or "Can't write data" in text
            or "can't write data" in text
            or "write failed" in text
            or "file write failed" in text
            or "Unable to synchronously" in text
            or "unable to flush" in text.lower()
        ):
            ambiguous = True
    if ambiguous and free_bytes(directory) < NEARLY_FULL_BYTES:
        return "no space left on device"
    return None


def free_bytes(directory: str | os.PathLike) -> int:
    """Bytes this process may still write on the file system of ``directory`` (root may
    use the blocks reserved for it); a very large number if that cannot be told."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return 1 << 62
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def reserve(path: str | os.PathLike, nbytes: int) -> None:
    """OSError ENOSPC (which :func:`atomic_path` reports) unless the file system of
    ``path`` has ``nbytes`` free: called before a write that a library cannot survive
    failing (HDF5, see the module docstring)."""
    path = Path(path)
    free = free_bytes(path.parent)
    if free < nbytes:
        raise OSError(
            errno.ENOSPC,
            f"No space left on device: {_size(free)} free, about {_size(nbytes)} needed",
            str(path),
        )


def _size(nbytes: int) -> str:
    if nbytes >= 1 << 61:
        return "unknown"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes} B"


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
