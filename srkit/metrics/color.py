"""Colour conversion and 8-bit quantisation as the MATLAB evaluation scripts do them."""

from __future__ import annotations

import torch
from torch import Tensor

from srkit.errors import SrkitError

#: ITU-R BT.601 luma row of MATLAB's ``rgb2ycbcr`` for [0, 1] RGB; Y lands in [16, 235] / 255.
Y_WEIGHTS = (65.481, 128.553, 24.966)
Y_OFFSET = 16.0
#: The same row in thousandths, for exact integer arithmetic on 8-bit levels.
_Y_WEIGHTS_MILLI = (65481, 128553, 24966)
_LUMA_SPAN_MILLI = 219_000  # sum of the weights, in thousandths

#: How the luma is computed: ``matlab`` rounds Y to an integer 16..235 (``rgb2ycbcr`` on a
#: ``uint8`` image returns ``uint8``, which is what published tables score); ``basicsr`` keeps
#: it unrounded (``rgb2ycbcr`` on ``im2double`` input, as BasicSR and most Python code do).
Y_MODES = ("matlab", "basicsr")
DEFAULT_Y_MODE = "matlab"


def quantize(x: Tensor) -> Tensor:
    """Round images in [0, 1] to the nearest of the 256 8-bit levels (clamped), keeping dtype.

    Rounds halves up like MATLAB's ``uint8`` conversion (``torch.round`` would round to even).
    """
    return torch.floor(x.clamp(0, 1) * 255 + 0.5) / 255


def check_y_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`Y_MODES`, else a one-line SrkitError."""
    if mode not in Y_MODES:
        raise SrkitError(f"unknown Y channel mode {mode!r}; expected one of {', '.join(Y_MODES)}")
    return mode


def _check_rgb(x: Tensor, name: str) -> int:
    channel_dim = x.dim() - 3
    if x.dim() not in (3, 4) or x.shape[channel_dim] not in (1, 3):
        raise SrkitError(f"{name}: expected RGB images (N,3,H,W), got shape {tuple(x.shape)}")
    return channel_dim


#: Input dtypes whose values times 255 are exact in float64 and of which, in [0, 1], only 0.5 lies
#: exactly halfway between two levels ((2k + 1) / 510 is a binary fraction only for k = 127), so
#: rounding half to even (127.5 to 128) gives the levels that rounding halves up gives.
_EXACT_TIMES_255 = (torch.float32, torch.float16, torch.bfloat16)


def to_levels(x: Tensor, dtype: torch.dtype | None = None, *, out: Tensor | None = None) -> Tensor:
    """The 8-bit levels 0..255 of images in [0, 1] (clamped, halves up), as floats in ``dtype``.

    A fresh tensor (or ``out``, of ``x``'s shape, which then sets the dtype), computed in place
    after one conversion: it is the same rounding as :func:`quantize`, times 255.
    """
    levels = x.to(dtype or x.dtype, copy=True) if out is None else out.copy_(x)
    if levels.dtype == torch.float64 and x.dtype in _EXACT_TIMES_255:
        return levels.mul_(255).round_().clamp_(0, 255)  # one pass fewer, same levels
    return levels.mul_(255).add_(0.5).clamp_(0.5, 255.5).floor_()


def luma_of_levels(levels: Tensor, channel_dim: int, *, rounded: bool, grey: bool = False,
                   out: Tensor | None = None) -> Tensor:
    """BT.601 luma on the 0..255 scale of 8-bit levels (keeping ``channel_dim`` with size 1).

    ``grey=False``: MATLAB ``rgb2ycbcr``'s Y in [16, 235]; ``grey=True``: full-range
    ``rgb2gray``. ``rounded``: as MATLAB on ``uint8`` images, to an integer, halves up. The
    rounded sum is taken in integer thousandths, which float64 holds exactly for 8-bit levels,
    so the rounding is exact (float32, on MPS, can misplace values within 1e-7 of a half); the
    unrounded one is weighted directly (within 1e-13 of the exact value, one pass fewer).
    One channel counts as R = G = B. ``out``: where to write it (a fresh tensor if None).
    """
    shape = list(levels.shape)
    shape[channel_dim] = 1
    weighted = torch.empty(shape, dtype=levels.dtype, device=levels.device) if out is None else out
    divisor = _LUMA_SPAN_MILLI if grey else 255_000
    offset = 0.0 if grey else Y_OFFSET
    # Rounded: thousandths, the offset and the half added in one integer, then one division.
    # Unrounded: scaled weights, the offset as the first addend.
    scale, start = (1, 0.0) if rounded else (divisor, offset)
    first = torch.full((), start, dtype=levels.dtype, device=levels.device)
    if levels.shape[channel_dim] == 1:
        torch.add(first, levels, alpha=_LUMA_SPAN_MILLI / scale, out=weighted)
    else:
        red, green, blue = levels.unbind(channel_dim)
        torch.add(first, red, alpha=_Y_WEIGHTS_MILLI[0] / scale, out=weighted.squeeze(channel_dim))
        weighted.add_(green.unsqueeze(channel_dim), alpha=_Y_WEIGHTS_MILLI[1] / scale)
        weighted.add_(blue.unsqueeze(channel_dim), alpha=_Y_WEIGHTS_MILLI[2] / scale)
    if rounded:
        weighted.add_(divisor // 2 + int(offset) * divisor).div_(divisor).floor_()
    return weighted


def rgb_to_y(x: Tensor, *, rounded: bool = False) -> Tensor:
    """Luma of RGB images: (N,3,H,W) or (3,H,W) in [0, 1] -> (N,1,H,W) or (1,H,W).

    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` as in MATLAB's ``rgb2ycbcr``; values
    lie in [16/255, 235/255]. ``rounded=False``: unrounded, ``rgb2ycbcr(im2double(rgb))``.
    ``rounded=True``: ``rgb2ycbcr`` of the ``uint8`` image, i.e. the input is taken as 8-bit
    levels and Y is rounded (halves up, in exact arithmetic) to an integer / 255.
    A single-channel (grey) input is treated as R = G = B.
    """
    channel_dim = _check_rgb(x, "rgb_to_y")
    if rounded:
        levels = to_levels(x, torch.float64 if x.device.type != "mps" else torch.float32)
        return luma_of_levels(levels, channel_dim, rounded=True).to(x.dtype) / 255
    if x.shape[channel_dim] == 1:
        return (Y_OFFSET + sum(Y_WEIGHTS) * x) / 255
    weights = torch.tensor(Y_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (Y_OFFSET + (x * weights).sum(dim=channel_dim, keepdim=True)) / 255


def rgb_to_grey(x: Tensor, *, rounded: bool = False) -> Tensor:
    """Full-range BT.601 luma (MATLAB ``rgb2gray``): (N,3,H,W) -> (N,1,H,W) in [0, 1].

    Equals the grey level itself when R = G = B; used to compare SR against grey references.
    ``rounded=True`` takes 8-bit levels and rounds, as ``rgb2gray`` of a ``uint8`` image does.
    """
    channel_dim = _check_rgb(x, "rgb_to_grey")
    if rounded:
        levels = to_levels(x, torch.float64 if x.device.type != "mps" else torch.float32)
        return luma_of_levels(levels, channel_dim, rounded=True, grey=True).to(x.dtype) / 255
    return (rgb_to_y(x) * 255 - Y_OFFSET) / sum(Y_WEIGHTS)
