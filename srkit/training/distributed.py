"""Multi-process training under torchrun: which process am I, and the few collectives we need."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
import torch.distributed as dist

from srkit.devices import resolve_device
from srkit.errors import SrkitError


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the run; a single-process run is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process logs, validates and writes files."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def start(requested_device: str) -> tuple[ProcessInfo, torch.device]:
    """Join the torchrun process group if launched by torchrun (nccl on CUDA, gloo otherwise)."""
    if not launched_by_torchrun():
        return ProcessInfo(), resolve_device(requested_device)
    info = ProcessInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                       int(os.environ.get("LOCAL_RANK", 0)))
    device = resolve_device(requested_device, info.local_rank)
    if info.distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=info.rank, world_size=info.world_size)
    return info, device


def stop() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def end_process(status: int) -> NoReturn:
    """End a torchrun worker without Python's interpreter shutdown.

    A process group that DDP wrapped nets for outlives ``destroy_process_group`` (torch keeps
    it), and so do its gloo threads. One of them may still be releasing the tensors of a
    finished collective while Python shuts down; it then needs the interpreter lock, which a
    finalizing interpreter answers by ending the thread, and C++ aborts the whole process
    (``terminate called without an active exception``, exit by SIGABRT after a good run).
    Every file the run writes is complete and closed before this point; the standard streams
    are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


#: what backends say when a peer process is gone (gloo closes its sockets; NCCL aborts)
_PEER_GONE = ("connection closed by peer", "connection reset by peer", "broken pipe",
              "timed out", "nccl communicator was aborted", "nccl error")


def peer_failure(exc: BaseException, info: ProcessInfo) -> SrkitError | None:
    """A one-line error when ``exc`` says another process of the run died, else None."""
    if not info.distributed or not isinstance(exc, RuntimeError):
        return None
    text = str(exc).strip()
    if not isinstance(exc, dist.DistError) and not any(s in text.lower() for s in _PEER_GONE):
        return None
    first = text.splitlines()[0] if text else type(exc).__name__
    detail = first.split("] ", 1)[-1].split(". ", 1)[0][:200]  # the backend's reason, no advice
    return SrkitError(f"process {info.rank} of {info.world_size} stopped: another process of this "
                      f"run failed (its own error is above) [{detail}]")


def gather_objects(value: Any, info: ProcessInfo) -> list[Any]:
    """``value`` of every process, in rank order (a collective; ``[value]`` alone)."""
    if not info.distributed:
        return [value]
    gathered: list[Any] = [None] * info.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def any_true(flag: bool, info: ProcessInfo, device: torch.device) -> bool:
    """True when ``flag`` is true on any process (so every process stops together)."""
    if not info.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
