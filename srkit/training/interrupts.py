"""Stopping a run cleanly on SIGINT (Ctrl-C), SIGTERM (schedulers, ``kill``) and SIGHUP.

The first signal only raises a flag: the trainer finishes the current step, saves a
checkpoint and raises :class:`srkit.errors.StoppedBySignal`, whose message says how to
resume. A second signal stops at once (the previous checkpoint stays intact: every write is
atomic).
Exit statuses follow the shell's 128 + signal number: 130, 143, 129.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from srkit.errors import StoppedBySignal

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))
#: prctl option: the signal a process gets when its parent dies (linux/prctl.h)
_PR_SET_PDEATHSIG = 1


def leave_stops_to_the_main_process(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: the main process alone decides when a run stops.

    A terminal's Ctrl-C, ``timeout``, Slurm preemption and Kubernetes signal the whole process
    group; a worker that died of it would make the main process fail instead of saving. Workers
    therefore ignore the stop signals (they are started with them blocked, see
    :func:`stop_signals_blocked`, so none is lost in between) and die with the main process
    instead: at once on Linux, where the kernel kills them when their parent dies.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)  # discards a stop signal pending since the fork
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _die_with_parent()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent ends (a no-op elsewhere)."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if not sys.platform.startswith("linux") or parent is None:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent.pid:  # the parent died before the request was made
        os._exit(0)


@contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Hold the stop signals back while worker processes are forked: children inherit the
    mask, so a signal to the group reaches them only once they ignore it. Signals sent to this
    process meanwhile are delivered when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopRequests:
    """Once installed, stop signals set :attr:`signum` instead of killing the process.

    ``hint`` is printed with the first signal; a second one raises :class:`StoppedBySignal`
    with ``second_message`` wherever the program is.
    Outside the main thread, signals cannot be caught: :meth:`install` does nothing.
    """

    def __init__(self, hint: str, second_message: str) -> None:
        self.signum: int | None = None
        self._hint = hint
        self._second_message = second_message
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def install(self) -> None:
        """Catch the stop signals from now on (only possible in the main thread)."""
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Give the signals back to the handlers they had before :meth:`install`."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self.restore()  # a third signal gets the previous behaviour
            raise StoppedBySignal(f"{signal_name(signum)} again: stopped at once; "
                                  f"{self._second_message}", signum)
        self.signum = signum
        print(f"{signal_name(signum)}: finishing the current step and saving a checkpoint "
              f"({self._hint})", file=sys.stderr, flush=True)
