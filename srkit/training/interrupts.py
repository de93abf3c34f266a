"""Stopping a run cleanly on SIGINT (Ctrl-C), SIGTERM (schedulers, ``kill``) and SIGHUP.

The first signal only raises a flag: the trainer finishes the current step, saves a
checkpoint and raises :class:`srkit.errors.StoppedBySignal`, whose message says how to
resume. A second signal stops at once (the previous checkpoint stays intact: every write is
atomic).
Exit statuses follow the shell's 128 + signal number: 130, 143, 129.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from srkit.errors import StoppedBySignal

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


def leave_stops_to_the_main_process(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: a terminal's Ctrl-C (or hang-up) reaches the whole process
    group; workers ignore it so the main process can finish its step and save. They still end
    with the main process."""
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


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
