"""The non-finite-loss guard, kept on the device so training steps never wait for the host.

Each step folds its loss terms into device tensors (the first step at which each term was NaN or
Inf, and its value then) with a few elementwise ops; :meth:`FiniteGuard.check` reads them back at
the logging, validation and checkpoint intervals only, once per interval instead of once per step.

Is a network fit to be saved as "good"? Non-finite or exploded weights are not.

A diverging run can keep a finite loss for a while with weights around 1e6, which upscale
to a black image; saving those as the latest checkpoint would overwrite the last good one.

Stopping a run cleanly on SIGINT (Ctrl-C), SIGTERM (schedulers, ``kill``) and SIGHUP.

The first signal only raises a flag: the trainer finishes the current step, saves a
checkpoint and raises :class:`srkit.errors.StoppedBySignal`, whose message says how to
resume. A second signal stops at once (the previous checkpoint stays intact: every write is
atomic).
Exit statuses follow the shell's 128 + signal number: 130, 143, 129.

An exclusive lock on a run folder, so two trainings never write into one ``--out``.

The lock is ``fcntl.flock`` on ``OUT/.lock``, held for the life of the run (``--resume``
included). The kernel drops it when the last descriptor of it closes, so the lock dies with the
process that took it: a forked child (a data-loader worker) closes its copy at once, so a run
killed with ``kill -9`` can be resumed immediately, even while its orphaned workers linger. The
file holds the holder's PID, for the refusal message.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType

import torch
from torch import Tensor, nn

from srkit.errors import SrkitError, StoppedBySignal
from srkit.run_folder import RunFolder
from srkit.training import distributed
from srkit.training.distributed import ProcessInfo

NEVER = -1


class FiniteGuard:
    """Remembers, per loss term, the first step at which it was not finite."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._first_bad: dict[str, Tensor] = {}
        self._value: dict[str, Tensor] = {}

    def observe(self, losses: dict[str, Tensor], step: int) -> None:
        """Fold one step's loss terms (device scalars) in; no host synchronisation."""
        for name, value in losses.items():
            first = self._first_bad.get(name)
            if first is None:
                first = torch.full((), NEVER, dtype=torch.long, device=self.device)
                self._value[name] = torch.zeros((), device=self.device)
            new = (first == NEVER) & ~torch.isfinite(value)
            self._first_bad[name] = torch.where(new, torch.full_like(first, step), first)
            self._value[name] = torch.where(new, value.float(), self._value[name])

    def check(self, info: ProcessInfo) -> tuple[int, list[str]] | None:
        """``(1-based iteration, ["name = value", ...])`` of the first non-finite step, else None.

        One host read per call; under DDP every process takes part, and a failure on another
        process is reported with an empty list of terms.
        """
        bad: list[tuple[int, str]] = []
        if self._first_bad:
            names = list(self._first_bad)
            steps = torch.stack([self._first_bad[n] for n in names]).tolist()
            values = torch.stack([self._value[n] for n in names]).tolist()
            bad = [(s, f"{n} = {v}") for n, s, v in zip(names, steps, values, strict=True)
                   if s != NEVER]
        if not distributed.any_true(bool(bad), info, self.device):
            return None
        if not bad:
            return 0, []
        first = min(s for s, _ in bad)
        return first + 1, [term for s, term in bad if s == first]


#: largest |weight| a healthy SR network holds. Trained generators and discriminators stay
#: far below 1e2; exploded runs reach 1e5 and more. Buffers (e.g. BatchNorm statistics) are
#: only checked for being finite.
MAX_ABS_WEIGHT = 1e4


def weight_problem(modules: Mapping[str, nn.Module]) -> str | None:
    """A description of the first non-finite or exploded tensor in ``modules``, or None."""
    for module_name, module in modules.items():
        named: list[tuple[str, torch.Tensor, bool]] = [
            (name, tensor, True) for name, tensor in module.named_parameters()]
        named += [(name, tensor, False) for name, tensor in module.named_buffers()]
        for name, tensor, bounded in named:
            if not tensor.is_floating_point() or tensor.numel() == 0:
                continue
            values = tensor.detach()
            if not bool(torch.isfinite(values).all()):
                return f"{module_name}.{name} holds NaN or infinite values"
            largest = float(values.abs().max())
            if bounded and largest > MAX_ABS_WEIGHT:
                return f"{module_name}.{name} has |w| up to {largest:.3g} (bound {MAX_ABS_WEIGHT:g})"
    return None


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


try:
    import fcntl
except ImportError:  # Windows: runs are not locked
    fcntl = None  # type: ignore[assignment]



class RunFolderLock:
    """``with RunFolderLock(out):`` holds the folder, or raises a one-line error naming the holder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = RunFolder(self.folder).lock
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
        if self._created and [p.name for p in self.folder.iterdir()] == [self.path.name]:
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
