"""Timing inference honestly: synchronised clocks, warm-up excluded, peak memory recorded.

Peak memory means different things per device and rows say which: on CUDA the highest
``torch.cuda.max_memory_allocated`` during the timed calls (tensors only, per row); on CPU the
process's peak resident set size (``getrusage``), which covers the whole process lifetime.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so a wall-clock reading covers the work, not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """A human-readable device description for result rows, e.g. ``NVIDIA H100 80GB HBM3``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine() or "cpu"
    return f"cpu {cpu} ({torch.get_num_threads()} threads)"


def process_peak_rss_mb() -> float | None:
    """The process's peak resident set size in MiB, or None where ``resource`` is missing."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass
class SpeedMeter:
    """Accumulates timed calls on one device; :meth:`summary` gives the row's speed columns."""

    device: torch.device
    seconds: float = 0.0
    calls: int = 0
    output_pixels: int = 0
    cuda_peak_bytes: int = 0

    def timed(self, fn: Callable[[], T], output_pixels: Callable[[T], int]) -> T:
        """Run ``fn`` once, adding its synchronised wall time and ``output_pixels(result)``."""
        synchronize(self.device)
        if self.device.type == "cuda":  # the peak of the timed calls only, not of scoring
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        result = fn()
        synchronize(self.device)
        self.seconds += time.perf_counter() - start
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
            self.cuda_peak_bytes = max(self.cuda_peak_bytes, peak)
        self.calls += 1
        self.output_pixels += output_pixels(result)
        return result

    def summary(self) -> dict[str, Any]:
        """latency_ms (mean per call), mpix_per_s (output), peak_mem_mb and what it measures."""
        peak: float | None
        if self.device.type == "cuda":
            peak = self.cuda_peak_bytes / 2**20
            kind = "cuda_max_allocated"
        else:
            peak, kind = process_peak_rss_mb(), "process_peak_rss"
        return {
            "latency_ms": 1000 * self.seconds / self.calls if self.calls else None,
            "mpix_per_s": self.output_pixels / self.seconds / 1e6 if self.seconds > 0 else None,
            "peak_mem_mb": round(peak, 1) if peak is not None else None,
            "peak_mem_kind": kind,
        }
