"""Colour conversion and 8-bit quantisation as the MATLAB evaluation scripts do them."""

from __future__ import annotations

import torch
from torch import Tensor

from srkit.errors import SrkitError

#: ITU-R BT.601 luma row of MATLAB's ``rgb2ycbcr`` for [0, 1] RGB; Y lands in [16, 235] / 255.
Y_WEIGHTS = (65.481, 128.553, 24.966)
Y_OFFSET = 16.0


def quantize(x: Tensor) -> Tensor:
    """Round images in [0, 1] to the nearest of the 256 8-bit levels (clamped), keeping dtype.

    Rounds halves up like MATLAB's ``uint8`` conversion (``torch.round`` would round to even).
    """
    return torch.floor(x.clamp(0, 1) * 255 + 0.5) / 255


def rgb_to_y(x: Tensor) -> Tensor:
    """Luma of RGB images: (N,3,H,W) or (3,H,W) in [0, 1] -> (N,1,H,W) or (1,H,W).

    Same as ``rgb2ycbcr(im2double(rgb))(:,:,1)`` in MATLAB, i.e.
    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255``: values lie in [16/255, 235/255]
    and are not rounded. A single-channel (grey) input is treated as R = G = B.
    """
    channel_dim = x.dim() - 3
    if x.dim() not in (3, 4) or x.shape[channel_dim] not in (1, 3):
        raise SrkitError(f"rgb_to_y: expected RGB images (N,3,H,W), got shape {tuple(x.shape)}")
    if x.shape[channel_dim] == 1:
        return (Y_OFFSET + sum(Y_WEIGHTS) * x) / 255
    weights = torch.tensor(Y_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (Y_OFFSET + (x * weights).sum(dim=channel_dim, keepdim=True)) / 255


def rgb_to_grey(x: Tensor) -> Tensor:
    """Full-range BT.601 luma (MATLAB ``rgb2gray``, unrounded): (N,3,H,W) -> (N,1,H,W) in [0, 1].

    Equals the grey level itself when R = G = B; used to compare SR against grey references.
    """
    return (rgb_to_y(x) * 255 - Y_OFFSET) / sum(Y_WEIGHTS)
