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

import torch

from srkit.errors import SrkitError

WHOLE_BYTES_PER_PIXEL = 48
#: the float32 output alone, on the device that runs the model
DEVICE_BYTES_PER_PIXEL = 12
STREAMED_BYTES_PER_PIXEL = 4
#: working memory of one tile (a 256-pixel LR tile through a small model), beyond the image
STREAM_TILE_ALLOWANCE = 256 * 2**20


def available_bytes(device: torch.device) -> int | None:
    """Memory free for new allocations on ``device`` (host RAM for the CPU); None if unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
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


def _gb(count: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"
