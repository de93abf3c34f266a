"""The one way srkit makes LR from HR: a degradation, clamping, then 8-bit quantisation.

Training batches, ``srkit degrade``, ``srkit bench`` and validation all go through
:func:`make_lr`, so one HR image gives one LR image whichever path made it. Quantisation is
on by default because published models (EDSR, DRN) train from LR stored as 8-bit PNG files,
and every evaluation LR is 8-bit (MATLAB's ``imresize`` returns ``uint8``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from srkit.degradations.bicubic import BicubicDegradation
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
