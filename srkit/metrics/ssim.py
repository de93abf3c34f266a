"""Structural similarity as in Wang et al.'s ``ssim_index.m``, used by SR papers."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.metrics.pairs import YChannel, prepare_pair
from srkit.metrics.threads import one_cpu_thread

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2, DYNAMIC_RANGE = 0.01, 0.03, 255.0
#: The local statistics are filtered in float64. float32 would cut the memory traffic, but
#: ``E[x²] - E[x]²`` cancels catastrophically on flat bright regions: more than 1e-6 SSIM off on
#: near-flat planes (tests/test_metrics.py) and 1.4e-5 on Set14 ppt3.png (see docs/evaluation.md).
FILTER_DTYPE = torch.float64
#: On a CPU, planes are filtered this many pixels at a time, so that a chunk's four statistics
#: planes (2.1 MB in float64) stay in the cache between the 22 filter passes (measured faster
#: than filtering a batch of 16 256x256 images at once); other devices take the whole batch.
CPU_CHUNK_PIXELS = 1 << 16


def gaussian_taps(size: int, sigma: float) -> list[float]:
    """Normalised 1-D Gaussian; its outer product is MATLAB's ``fspecial('gaussian', size, sigma)``."""
    weights = [math.exp(-((k - (size - 1) / 2) ** 2) / (2 * sigma * sigma)) for k in range(size)]
    total = sum(weights)
    return [w / total for w in weights]


def _filter_valid(planes: Tensor, taps: list[float]) -> Tensor:
    """'valid' separable filtering of (..., H, W) planes -> (..., H-size+1, W-size+1).

    Two 1-D passes (columns, then rows) that accumulate shifted slices in place: no padding,
    no intermediate copies, and on a CPU much faster than a single-channel ``conv2d``.
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


def _mean_ssim(x: Tensor, y: Tensor, taps: list[float], dtype: torch.dtype) -> Tensor:
    """Mean SSIM (float64) of each pair of (P,H,W) planes in 0..255, filtered in ``dtype``.

    SSIM needs only ``var_x + var_y``, so four planes are filtered (x, y, x² + y², xy), not five.
    """
    stats = torch.empty((4, *x.shape), dtype=dtype, device=x.device)
    stats[0], stats[1] = x, y
    torch.mul(stats[0], stats[0], out=stats[2]).addcmul_(stats[1], stats[1])
    torch.mul(stats[0], stats[1], out=stats[3])
    mu_x, mu_y, squares, xy = _filter_valid(stats, taps)
    c1, c2 = (K1 * DYNAMIC_RANGE) ** 2, (K2 * DYNAMIC_RANGE) ** 2
    # ((2 mu_x mu_y + c1)(2 cov + c2)) / ((mu_x² + mu_y² + c1)(var_x + var_y + c2)), in place.
    mu_xy = mu_x * mu_y
    contrast = xy.sub_(mu_xy).mul_(2).add_(c2)
    luminance = mu_xy.mul_(2).add_(c1)
    brightness = mu_x.square_().addcmul_(mu_y, mu_y).add_(c1)
    spread = squares.sub_(brightness).add_(c1 + c2)
    ssim_map = luminance.mul_(contrast).div_(brightness.mul_(spread))
    return ssim_map.flatten(1).mean(dim=1, dtype=torch.float64)


def ssim_of_planes(x: Tensor, y: Tensor, *, dtype: torch.dtype = FILTER_DTYPE) -> Tensor:
    """Mean SSIM of each pair of prepared (N,C,H,W) planes in 0..255, averaged over C -> (N,).

    ``dtype``: precision of the filtering (float64 gives the exact reference); the result is
    float64 (float32 on MPS, which has no float64).
    """
    n, c, h, w = x.shape
    if min(h, w) < WINDOW_SIZE:
        raise SrkitError(f"ssim: images are {h}x{w} after cropping, smaller than the {WINDOW_SIZE}px window")
    if x.device.type == "mps":
        dtype = torch.float32
    taps = gaussian_taps(WINDOW_SIZE, WINDOW_SIGMA)
    x, y = x.reshape(n * c, h, w), y.reshape(n * c, h, w)
    chunk = max(1, CPU_CHUNK_PIXELS // (h * w)) if x.device.type == "cpu" else n * c
    with one_cpu_thread(x.device):
        means = torch.cat([_mean_ssim(x[i : i + chunk], y[i : i + chunk], taps, dtype)
                           for i in range(0, n * c, chunk)])
    return means.to(x.dtype).view(n, c).mean(dim=1)


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
    return ssim_of_planes(x, y)
