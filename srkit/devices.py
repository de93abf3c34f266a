"""The ``--device`` option of every command, as one checked :class:`torch.device`."""

from __future__ import annotations

import torch

from srkit.errors import SrkitError


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(requested: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA (GPU ``local_rank``, this process's GPU under torchrun), else MPS, else CPU.

    ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` are checked against this machine; a device that is
    not there is a one-line :class:`SrkitError`. A bare ``cuda`` means GPU ``local_rank``.
    """
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise SrkitError(f"--device {requested!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SrkitError(f"--device {requested}: CUDA is not available on this machine")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SrkitError(f"--device {requested}: only {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not _mps_available():
        raise SrkitError(f"--device {requested}: MPS is not available on this machine")
    return device
