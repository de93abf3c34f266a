"""Training-time augmentations on (..., 3, H, W) tensors, drawing randomness only from torch.

Using torch's RNG (optionally an explicit ``generator``) rather than Python's ``random`` is
what makes DataLoader runs reproducible: torch seeds each worker from the base seed.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _randint(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (1,), generator=generator).item())


def random_flip_rotate(
    *tensors: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, ...]:
    """Apply one random element of the dihedral group (flips and 90° rotations) to all tensors.

    The same transform is used for every tensor, so an LR crop and its HR crop stay aligned.
    The last two dimensions are (H, W); square crops keep their shape.
    """
    hflip, vflip, transpose = (_randint(2, generator) == 1 for _ in range(3))
    result = []
    for x in tensors:
        if hflip:
            x = x.flip(-1)
        if vflip:
            x = x.flip(-2)
        if transpose:
            x = x.transpose(-1, -2)
        result.append(x.contiguous())
    return tuple(result)
