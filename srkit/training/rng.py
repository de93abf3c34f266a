"""Random-number-generator states: seeding, saving into checkpoints, and isolating side draws.

Exact resume needs every draw of the training stream to come from state that is checkpointed;
work that must not disturb that stream (data crops, validation) runs under :func:`isolated_rng`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_cpu_rngs(seed: int) -> None:
    """Seed the CPU torch/numpy/python RNGs only.

    Unlike :func:`seed_everything` it leaves CUDA alone: ``torch.manual_seed`` would also reseed
    (or, before CUDA starts, queue a reseed with a formatted stack trace), which costs more
    than a training crop.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (e.g. run seed, stream, position)."""
    return int(np.random.SeedSequence([abs(int(p)) for p in parts]).generate_state(2, np.uint64)[0]
               >> np.uint64(1))


@contextmanager
def isolated_rng(seed: int | None = None) -> Iterator[None]:
    """Run a block with the CPU torch/numpy/python RNGs (optionally reseeded), then restore them.

    CUDA generators are not touched: the blocks isolated here draw on the CPU only.
    """
    torch_state, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        if seed is not None:
            seed_cpu_rngs(seed)
        yield
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(np_state)
        random.setstate(py_state)


def capture_rng(tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Add torch RNG states to ``tensors`` (uint8); return numpy/python states as JSON."""
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    return {
        "numpy": [name, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)],
        "python": [version, list(py_state), gauss_next],
    }


def restore_rng(tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda_keys = sorted((k for k in tensors if k.startswith("rng.cuda.")),
                       key=lambda k: int(k.rsplit(".", 1)[1]))
    cuda_states = [tensors[k] for k in cuda_keys]
    if cuda_states and torch.cuda.is_available():
        for index, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, py_state, gauss_next = state["python"]
    random.setstate((version, tuple(py_state), gauss_next))
