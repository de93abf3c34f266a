"""Flips/rotations of (..., 3, H, W) tensors: training augmentation, drawing randomness only from torch.

Using torch's RNG (optionally an explicit ``generator``) rather than Python's ``random`` is
what makes DataLoader runs reproducible: torch seeds each worker from the base seed.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _randint(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (1,), generator=generator).item())


def dihedral(x: Tensor, index: int) -> Tensor:
    """The ``index``-th (0..7) of the 8 flips/90° rotations of the last two dimensions (H, W).

    Bit 0 flips W, bit 1 flips H, bit 2 transposes (in that order); used by training
    augmentation and by test-time self-ensemble.
    """
    if index & 1:
        x = x.flip(-1)
    if index & 2:
        x = x.flip(-2)
    if index & 4:
        x = x.transpose(-1, -2)
    return x


def dihedral_inverse(x: Tensor, index: int) -> Tensor:
    """Undo :func:`dihedral` ``index`` (each step is its own inverse; applied in reverse)."""
    if index & 4:
        x = x.transpose(-1, -2)
    if index & 2:
        x = x.flip(-2)
    if index & 1:
        x = x.flip(-1)
    return x


def random_flip_rotate(
    *tensors: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, ...]:
    """Apply one random element of the dihedral group (flips and 90° rotations) to all tensors.

    The same transform is used for every tensor, so an LR crop and its HR crop stay aligned.
    The last two dimensions are (H, W); square crops keep their shape.
    """
    hflip, vflip, transpose = (_randint(2, generator) for _ in range(3))
    index = hflip + 2 * vflip + 4 * transpose
    return tuple(dihedral(x, index).contiguous() for x in tensors)
