"""Structural similarity as in Wang et al.'s ``ssim_index.m``, used by SR papers."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.metrics.pairs import YChannel, prepare_pair

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2, DYNAMIC_RANGE = 0.01, 0.03, 255.0


def gaussian_taps(size: int, sigma: float) -> list[float]:
    """Normalised 1-D Gaussian; its outer product is MATLAB's ``fspecial('gaussian', size, sigma)``."""
    weights = [math.exp(-((k - (size - 1) / 2) ** 2) / (2 * sigma * sigma)) for k in range(size)]
    total = sum(weights)
    return [w / total for w in weights]


def _filter_valid(planes: Tensor, taps: list[float]) -> Tensor:
    """'valid' separable filtering of (..., H, W) planes -> (..., H-size+1, W-size+1).

    Accumulates shifted slices in place: exact in float64 and much faster on CPU than a
    float64 ``conv2d``, with no intermediate copies.
    """
    size = len(taps)
    h, w = planes.shape[-2:]
    rows = planes[..., : h - size + 1, :] * taps[0]
    for k in range(1, size):
        rows.add_(planes[..., k : h - size + 1 + k, :], alpha=taps[k])
    out = rows[..., : w - size + 1] * taps[0]
    for k in range(1, size):
        out.add_(rows[..., k : w - size + 1 + k], alpha=taps[k])
    return out


def ssim(sr: Tensor, hr: Tensor, *, crop: int, y_channel: YChannel = True) -> Tensor:
    """Mean SSIM of each image of a batch (11x11 Gaussian window, sigma 1.5, valid region).

    Args:
        sr, hr: (N,3,H,W) or (3,H,W) images in [0, 1]; both are quantised to 8 bits first.
        crop: border pixels ignored on every side before filtering.
        y_channel: compare the BT.601 luma (MATLAB ``rgb2ycbcr``): ``"matlab"`` or True rounds
            it to integers as MATLAB does on 8-bit images, ``"basicsr"`` keeps it unrounded;
            False: SSIM averaged over R, G, B.

    Returns:
        float64 tensor (N,) (float32 on MPS); 1 for identical images.
    """
    x, y = prepare_pair(sr, hr, crop=crop, y_channel=y_channel, name="ssim")
    n, c, h, w = x.shape
    if min(h, w) < WINDOW_SIZE:
        raise SrkitError(f"ssim: images are {h}x{w} after cropping, smaller than the {WINDOW_SIZE}px window")
    taps = gaussian_taps(WINDOW_SIZE, WINDOW_SIGMA)
    x = x.reshape(n * c, 1, h, w)
    y = y.reshape(n * c, 1, h, w)
    # One filtering pass over the five statistics' planes.
    stats = _filter_valid(torch.cat([x, y, x * x, y * y, x * y]), taps).chunk(5)
    mu_x, mu_y, xx, yy, xy = stats
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x, var_y, cov = xx - mu_xx, yy - mu_yy, xy - mu_xy
    c1, c2 = (K1 * DYNAMIC_RANGE) ** 2, (K2 * DYNAMIC_RANGE) ** 2
    ssim_map = ((2 * mu_xy + c1) * (2 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2))
    return ssim_map.reshape(n, c, -1).mean(dim=2).mean(dim=1)
