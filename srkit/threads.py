"""The CPU thread count for small tensor work, chosen here rather than left to ``OMP_NUM_THREADS``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_cpu_thread(device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block's CPU tensor operations on one intra-op thread, then restore the count.

    For work made of many small operations (a metric's cache-sized chunks, the hundreds of
    tensors of a weights file): too small for a second thread to pay for its hand-off, and on a
    busy machine, waiting for a descheduled thread made two threads several times slower than
    one (``benchmarks/metrics_vs_numpy.py``, ``benchmarks/startup.py``). Blocks for another
    device are left alone.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
