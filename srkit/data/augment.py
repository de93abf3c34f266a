"""Training-time augmentations on (..., 3, H, W) tensors, drawing randomness only from torch.

Using torch's RNG (optionally an explicit ``generator``) rather than Python's ``random`` is
what makes DataLoader runs reproducible: torch seeds each worker from the base seed.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _randint(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (1,), generator=generator).item())


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator).item())


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


def _grayscale(x: Tensor) -> Tensor:
    r, g, b = x.unbind(-3)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def color_jitter(x: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """Random brightness, contrast and saturation, each a factor in [1-strength, 1+strength].

    ``x``: (3,H,W) or (N,3,H,W) float in [0, 1]; returns the same shape, clamped to [0, 1].
    ``strength`` 0 returns ``x`` unchanged (no random numbers drawn).
    """
    if strength <= 0:
        return x
    low, high = max(0.0, 1.0 - strength), 1.0 + strength
    brightness, contrast, saturation = (_uniform(low, high, generator) for _ in range(3))
    x = x * brightness
    mean = _grayscale(x).mean(dim=(-3, -2, -1), keepdim=True)
    x = (x - mean) * contrast + mean
    gray = _grayscale(x)
    x = (x - gray) * saturation + gray
    return x.clamp(0.0, 1.0)
