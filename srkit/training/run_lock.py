"""An exclusive lock on a run folder, so two trainings never write into one ``--out``.

The lock is ``fcntl.flock`` on ``OUT/.lock``, held for the life of the run (``--resume``
included). The kernel drops it when the last descriptor of it closes, so the lock dies with the
process that took it: a forked child (a data-loader worker) closes its copy at once, so a run
killed with ``kill -9`` can be resumed immediately, even while its orphaned workers linger. The
file holds the holder's PID, for the refusal message.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from types import TracebackType

from srkit.errors import SrkitError

try:
    import fcntl
except ImportError:  # Windows: runs are not locked
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class RunFolderLock:
    """``with RunFolderLock(out):`` holds the folder, or raises a one-line error naming the holder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None
        self._created: list[Path] = []  # folders this lock made, deepest first

    def __enter__(self) -> RunFolderLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        if fcntl is None:
            return
        self._created = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise SrkitError(f"{self.folder}: cannot create the run folder's lock file "
                             f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"PID {holder}" if holder else "another process"
            raise SrkitError(f"{self.folder}: another training run ({who}) is using this folder; "
                             "wait for it to end or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        _close_in_forked_children(self)

    def release(self) -> None:
        if self._fd is None:
            return
        if self._created and [p.name for p in self.folder.iterdir()] == [LOCK_NAME]:
            # the run failed before writing anything: leave no folder behind (still locked here)
            self.path.unlink(missing_ok=True)
            for folder in self._created:
                try:
                    folder.rmdir()
                except OSError:
                    break
        os.close(self._fd)  # closing drops the flock; otherwise the file stays (deleting it would race)
        self._fd = None


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


def _close_in_forked_children(lock: RunFolderLock) -> None:
    """A forked child closes its inherited copy of ``lock``'s descriptor first thing, so only the
    process that took the lock holds it (flock locks belong to the open file, which forks share)."""
    if not hasattr(os, "register_at_fork"):
        return
    held = weakref.ref(lock)

    def close_copy() -> None:
        owner = held()
        if owner is not None and owner._fd is not None:
            try:
                os.close(owner._fd)
            except OSError:
                pass
            owner._fd = None  # this child holds no lock to release

    os.register_at_fork(after_in_child=close_copy)
