"""DRN's intermediate targets: the LR at each level between the input and the HR, from one draw.

DRN supervises every output level, so a paired sample needs the HR downscaled to each
intermediate size as well as the LR input. A degradation may define
``levels(hr, factors, *, generator=None) -> list[Tensor]`` (blur-bicubic blurs once and downscales
to every factor); without it the largest factor comes from the degradation and the others are
MATLAB bicubic, what the official DRN pipeline trains on. Either way the largest factor equals
the run's LR given an identically seeded generator, and every level is clamped and 8-bit like it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from srkit.api import Degradation, SrkitError, make_lr


def level_key(factor: int) -> str:
    """The ``batch.extra`` key of the LR at downscaling ``factor``."""
    return f"lr_x{factor}"


class _Made:
    """A degradation that returns an LR made beforehand, so :func:`make_lr` finishes it as usual
    (shape check, clamping, 8-bit rounding)."""

    def __init__(self, lr: Tensor) -> None:
        self.lr = lr

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor:
        return self.lr


@torch.no_grad()
def make_levels(hr: Tensor, factors: Sequence[int], degradation: Degradation | None = None, *,
                quantize: bool = True, generator: torch.Generator | None = None) -> list[Tensor]:
    """One (N,3,H/f,W/f) LR per factor ``f`` of an HR batch (N,3,H,W), in the order given."""
    if not factors or any(int(f) != f or f < 1 for f in factors):
        raise SrkitError(f"LR levels: factors must be positive integers, got {list(factors)}")
    levels_of = getattr(degradation, "levels", None)
    if levels_of is not None:
        raw = levels_of(hr, list(factors), generator=generator)
    else:
        deepest = max(factors)
        raw = [make_lr(hr, f, degradation, quantize=False, generator=generator) if f == deepest
               else make_lr(hr, f, quantize=False) for f in factors]
    if len(raw) != len(factors):
        raise SrkitError(f"the degradation returned {len(raw)} LR levels for {len(factors)} factors")
    return [make_lr(hr, f, _Made(lr), quantize=quantize) for lr, f in zip(raw, factors, strict=True)]
