"""The one way srkit makes LR from HR: a degradation, clamping, then 8-bit quantisation.

Training batches, ``srkit degrade``, ``srkit bench`` and validation all go through
:func:`make_lr`, so one HR image gives one LR image whichever path made it. Quantisation is
on by default because published models (EDSR, DRN) train from LR stored as 8-bit PNG files,
and every evaluation LR is 8-bit (MATLAB's ``imresize`` returns ``uint8``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from srkit.degradations.bicubic import BicubicDegradation, bicubic_downscale
from srkit.errors import SrkitError
from srkit.interfaces import Degradation
from srkit.metrics.color import quantize as quantize_8bit


def _finish(lr: Tensor, hr: Tensor, factor: int, quantize: bool) -> Tensor:
    expected = (*hr.shape[:-2], hr.shape[-2] // factor, hr.shape[-1] // factor)
    if tuple(lr.shape) != expected:
        raise SrkitError(
            f"the degradation returned shape {tuple(lr.shape)} for x{factor}, expected {expected}")
    lr = lr.clamp(0.0, 1.0)
    return quantize_8bit(lr) if quantize else lr


@torch.no_grad()
def make_lr(hr: Tensor, scale: int, degradation: Degradation | None = None, *,
            quantize: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """LR of an HR batch: ``degradation(hr, scale)``, clamped to [0, 1], rounded to 8 bits.

    Args:
        hr: (N,3,H,W) in [0, 1] with H, W multiples of ``scale``.
        degradation: default MATLAB bicubic (:class:`BicubicDegradation`).
        quantize: round to the 256 8-bit levels (what an LR PNG file holds); False keeps float.
        generator: the only source of randomness of a randomised degradation.

    Returns:
        (N,3,H/scale,W/scale) in [0, 1], on ``hr``'s device and in its dtype.
    """
    degradation = degradation or BicubicDegradation()
    return _finish(degradation(hr, scale, generator=generator), hr, scale, quantize)


def bicubic_levels(degradation: Degradation, hr: Tensor, factors: Sequence[int], *,
                   generator: torch.Generator | None = None) -> list[Tensor]:
    """The default LR levels: the largest factor by the degradation, the others by bicubic.

    This is what the official DRN pipeline trains on (bicubic intermediate levels); a
    degradation that defines ``levels`` replaces it.
    """
    deepest = max(factors)
    return [degradation(hr, f, generator=generator) if f == deepest else bicubic_downscale(hr, f)
            for f in factors]


@torch.no_grad()
def make_lr_levels(hr: Tensor, factors: Sequence[int], degradation: Degradation | None = None,
                   *, quantize: bool = True,
                   generator: torch.Generator | None = None) -> list[Tensor]:
    """LR of an HR batch at several downscaling factors, from one random draw.

    Uses ``degradation.levels(hr, factors, generator=...)`` when the degradation defines it
    (see :class:`srkit.interfaces.Degradation`), else :func:`bicubic_levels`. The level of the
    largest factor equals :func:`make_lr` at that factor with an identically seeded generator.

    Returns:
        One (N,3,H/f,W/f) tensor per factor ``f``, in the order given, clamped and (by default)
        rounded to 8 bits like :func:`make_lr`.
    """
    if not factors or any(int(f) != f or f < 1 for f in factors):
        raise SrkitError(f"LR levels: factors must be positive integers, got {list(factors)}")
    degradation = degradation or BicubicDegradation()
    levels_of = getattr(degradation, "levels", None)
    if levels_of is not None:
        levels = levels_of(hr, list(factors), generator=generator)
    else:
        levels = bicubic_levels(degradation, hr, factors, generator=generator)
    if len(levels) != len(factors):
        raise SrkitError(f"the degradation returned {len(levels)} LR levels for {len(factors)} factors")
    return [_finish(lr, hr, f, quantize) for lr, f in zip(levels, factors, strict=True)]
