"""The CPU thread count for metric work, chosen here rather than left to ``OMP_NUM_THREADS``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the block's CPU tensor operations on one intra-op thread, then restore the count.

    The metrics work on cache-sized chunks (tens of thousands of pixels per operation), too small
    for a second thread to pay for its hand-off: on a busy machine, waiting for a descheduled
    thread made two threads several times slower than one. Other devices are left alone.
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
