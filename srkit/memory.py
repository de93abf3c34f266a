"""How much memory is free, and whether an upscaled image fits: decided before any work.

Estimates per output pixel of an RGB result. Held whole, the image buffers alone cost the
float32 output (12 bytes), the float copy made while quantising it (12), the 8-bit array (3)
and Pillow's image (4: Pillow keeps RGB in 4 bytes); the model's own working memory comes on
top, so :data:`WHOLE_BYTES_PER_PIXEL` allows 48 (bicubic x4 peaks at 42 in
``python benchmarks/upscale_memory.py --size 2000x1500``). Assembled tile by tile, the output
costs Pillow's 8-bit image plus one tile's working memory (:data:`STREAM_TILE_ALLOWANCE`;
the same benchmark measures 6.5 bytes per pixel in all at 8000x6000).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from srkit.errors import SrkitError

WHOLE_BYTES_PER_PIXEL = 48
#: the float32 output alone, on the device that runs the model
DEVICE_BYTES_PER_PIXEL = 12
STREAMED_BYTES_PER_PIXEL = 4
#: working memory of one tile (a 256-pixel LR tile through a small model), beyond the image
STREAM_TILE_ALLOWANCE = 256 * 2**20
#: batches a data-loader worker prepares ahead (DataLoader's default ``prefetch_factor``)
BATCHES_PER_WORKER = 2


def available_bytes(device: torch.device) -> int | None:
    """Memory free for new allocations on ``device``; None if unknown.

    For the CPU: the least of the host's available RAM, what this process's address-space and
    data limits (``ulimit -v``/``-d``) leave, and what its cgroup's memory limit leaves (containers,
    Slurm, systemd), since any of them makes an allocation fail.
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    known = [n for n in (_host_available(), _rlimit_left(), _cgroup_left()) if n is not None]
    return max(0, min(known)) if known else None


def _host_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _rlimit_left() -> int | None:
    """Bytes this process may still map under RLIMIT_AS / RLIMIT_DATA (None: unlimited)."""
    try:
        import resource
    except ImportError:
        return None
    left = []
    for name, usage_key in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        limit = getattr(resource, name, None)
        if limit is None:
            continue
        soft, _ = resource.getrlimit(limit)
        used = _status_kb(usage_key)
        if soft != resource.RLIM_INFINITY and used is not None:
            left.append(soft - used)
    return min(left) if left else None


def _status_kb(key: str) -> int | None:
    """A ``/proc/self/status`` entry in bytes (``VmSize``, ``VmData``); None where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_left() -> int | None:
    """Bytes left under this process's cgroup memory limits (v2, else v1); None if unlimited."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as cgroups:
            lines = cgroups.read().splitlines()
    except OSError:
        return None
    left = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and not controllers:  # cgroup v2: the path and each of its parents
            folder = Path("/sys/fs/cgroup") / path.lstrip("/")
            for level in (folder, *folder.parents):
                if not str(level).startswith("/sys/fs/cgroup"):
                    break
                limit, used = _read_int(level / "memory.max"), _read_int(level / "memory.current")
                if limit is not None and used is not None:
                    left.append(limit - used)
        elif "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory")
            limit = _read_int(folder / "memory.limit_in_bytes")
            used = _read_int(folder / "memory.usage_in_bytes")
            if limit is not None and used is not None and limit < 2**60:
                left.append(limit - used)
    return min(left) if left else None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def training_memory_plan(batch_size: int, patch_size: int, workers: int, streams: int) -> None:
    """Refuse, before any crop is made, a batch whose crops alone cannot fit in host memory.

    One HR batch is ``batch x 3 x patch^2`` float32 values; it exists as the crops and their
    collated copy, and each worker prepares :data:`BATCHES_PER_WORKER` ahead; ``streams`` data
    streams (the recipe's extra datasets) each do the same. The networks come on top.
    """
    batch = batch_size * 3 * patch_size**2 * 4
    need = batch * (2 + BATCHES_PER_WORKER * max(workers, 1)) * max(streams, 1)
    available = available_bytes(torch.device("cpu"))
    if available is not None and need > available:
        raise SrkitError(f"--batch-size {batch_size} with --patch-size {patch_size}: the crops "
                         f"need at least {_gb(need)} of memory and {_gb(available)} is available; "
                         "lower --batch-size or --patch-size (or --workers)")


def output_plan(what: str, width: int, height: int, device: torch.device) -> str:
    """``"whole"`` if a ``width`` x ``height`` output fits whole, ``"streamed"`` if only its
    8-bit image does (assemble it tile by tile); otherwise a one-line error with the size needed.
    """
    pixels = width * height
    host = available_bytes(torch.device("cpu"))
    fits = host is None or pixels * WHOLE_BYTES_PER_PIXEL <= host
    if fits and device.type != "cpu":
        on_device = available_bytes(device)
        fits = on_device is None or pixels * DEVICE_BYTES_PER_PIXEL <= on_device
    if fits:
        return "whole"
    need = pixels * STREAMED_BYTES_PER_PIXEL + STREAM_TILE_ALLOWANCE
    if host is None or need <= host:
        return "streamed"
    raise SrkitError(f"{what}: the {width}x{height} output needs at least {_gb(need)} of memory "
                     f"even assembled tile by tile, and {_gb(host)} is available; upscale a "
                     "smaller image or a crop of it")


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed allocation: numpy's or Python's ``MemoryError``, or torch's
    allocator error on the CPU or a GPU."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text
                                              or "out of memory" in text.lower())


class OutOfMemory(SrkitError):
    """An allocation failed on a real image: never skipped like an unreadable file."""


def allocation_error(image: object, width: int, height: int, doing: str) -> OutOfMemory:
    """The one line for an allocation that failed while ``doing`` something with ``image``."""
    available = available_bytes(torch.device("cpu"))
    free = f"; {_gb(available)} is available to this process" if available is not None else ""
    return OutOfMemory(f"{image}: not enough memory to {doing} this {width}x{height} image{free} "
                      "(see ulimit -v and the container's memory limit)")


def _gb(count: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"
