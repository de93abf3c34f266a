"""Work tensors that one metric call reuses from chunk to chunk."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


class Scratch:
    """Named work tensors, each a view of one buffer that grows when a larger one is asked for.

    A call that scores its images chunk by chunk on a CPU writes each chunk's temporaries to the
    memory the previous chunk used, which is still in the cache (fresh tensors for each chunk
    were measurably slower). Two tensors alive together must have different names.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def tensor(self, name: str, shape: Sequence[int], *, dtype: torch.dtype, device: torch.device) -> Tensor:
        """An uninitialised contiguous tensor of ``shape``, sharing memory with earlier ``name`` ones."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.numel() < size or buffer.dtype != dtype or buffer.device != device:
            buffer = torch.empty(size, dtype=dtype, device=device)
            self._buffers[name] = buffer
        return buffer[:size].view(tuple(shape))
