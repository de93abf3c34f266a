"""Structural similarity as in Wang et al.'s ``ssim_index.m``, used by SR papers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.metrics.pairs import YChannel, metric_dtype, score_pairs
from srkit.metrics.scratch import Scratch
from srkit.threads import one_cpu_thread

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2, DYNAMIC_RANGE = 0.01, 0.03, 255.0
#: The local statistics are filtered in float64. float32 would cut the memory traffic, but
#: ``E[x²] - E[x]²`` cancels catastrophically on flat bright regions: more than 1e-6 SSIM off on
#: near-flat planes (tests/test_metrics.py) and 1.2e-5 on Set14 foreman.png (see docs/evaluation.md).
FILTER_DTYPE = torch.float64
#: On a CPU, SSIM is computed on pieces of about this many output pixels: a few whole planes of
#: small images, strips of rows of large ones, so a piece's four statistics planes stay in the
#: cache between the 22 filter passes (on megapixel images, strips took about half the time of
#: whole planes; half and twice this size were slower). Other devices take the whole batch.
CPU_PIECE_PIXELS = 1 << 17


def gaussian_taps(size: int, sigma: float) -> list[float]:
    """Normalised 1-D Gaussian; its outer product is MATLAB's ``fspecial('gaussian', size, sigma)``."""
    weights = [math.exp(-((k - (size - 1) / 2) ** 2) / (2 * sigma * sigma)) for k in range(size)]
    total = sum(weights)
    return [w / total for w in weights]


#: The 1-D Gaussian of the window, whose outer product is the 11x11 window.
TAPS = tuple(gaussian_taps(WINDOW_SIZE, WINDOW_SIGMA))


def _filter_valid(planes: Tensor, taps: Sequence[float], scratch: Scratch) -> Tensor:
    """'valid' separable filtering of (..., H, W) planes -> (..., H-size+1, W-size+1).

    Two 1-D passes (columns, then rows) that accumulate shifted slices in place: no padding,
    no intermediate copies, and on a CPU much faster than a single-channel ``conv2d``.
    """
    size = len(taps)
    h, w = planes.shape[-2:]
    dtype, device = planes.dtype, planes.device
    rows = scratch.tensor("ssim rows", (*planes.shape[:-2], h - size + 1, w), dtype=dtype, device=device)
    torch.mul(planes[..., : h - size + 1, :], taps[0], out=rows)
    for k in range(1, size):
        rows.add_(planes[..., k : h - size + 1 + k, :], alpha=taps[k])
    out = scratch.tensor("ssim filtered", (*rows.shape[:-1], w - size + 1), dtype=dtype, device=device)
    torch.mul(rows[..., : w - size + 1], taps[0], out=out)
    for k in range(1, size):
        out.add_(rows[..., k : w - size + 1 + k], alpha=taps[k])
    return out


def _ssim_sums(x: Tensor, y: Tensor, taps: Sequence[float], dtype: torch.dtype, scratch: Scratch) -> Tensor:
    """Sum of the SSIM map of each pair of (P,H,W) planes in 0..255, filtered in ``dtype`` -> (P,).

    SSIM needs only ``var_x + var_y``, so four planes are filtered (x, y, x² + y², xy), not five.
    """
    stats = scratch.tensor("ssim stats", (4, *x.shape), dtype=dtype, device=x.device)
    stats[0], stats[1] = x, y
    torch.mul(stats[0], stats[0], out=stats[2]).addcmul_(stats[1], stats[1])
    torch.mul(stats[0], stats[1], out=stats[3])
    mu_x, mu_y, squares, xy = _filter_valid(stats, taps, scratch)
    c1, c2 = (K1 * DYNAMIC_RANGE) ** 2, (K2 * DYNAMIC_RANGE) ** 2
    # ((2 mu_x mu_y + c1)(2 cov + c2)) / ((mu_x² + mu_y² + c1)(var_x + var_y + c2)), in place
    # but the first: 2 cov + c2 = 2 E[xy] - (2 mu_x mu_y + c1) + c1 + c2, and so on.
    luminance = scratch.tensor("ssim luminance", mu_x.shape, dtype=dtype, device=x.device)
    torch.addcmul(torch.full((), c1, dtype=dtype, device=x.device), mu_x, mu_y, value=2, out=luminance)
    contrast = xy.mul_(2).sub_(luminance).add_(c1 + c2)
    brightness = mu_x.square_().addcmul_(mu_y, mu_y).add_(c1)
    spread = squares.sub_(brightness).add_(c1 + c2)
    ssim_map = luminance.mul_(contrast).div_(brightness.mul_(spread))
    return ssim_map.flatten(1).sum(dim=1, dtype=metric_dtype(x.device))


def _cpu_pieces(planes: int, h: int, w: int) -> list[tuple[slice, slice]]:
    """(planes, input rows) of the pieces of :data:`CPU_PIECE_PIXELS` that cover (planes,H,W)."""
    out_h, out_w = h - WINDOW_SIZE + 1, w - WINDOW_SIZE + 1
    rows = max(1, CPU_PIECE_PIXELS // out_w)
    if rows >= out_h:
        together = max(1, CPU_PIECE_PIXELS // (out_h * out_w))
        return [(slice(p, p + together), slice(None)) for p in range(0, planes, together)]
    return [(slice(p, p + 1), slice(r, min(r + rows, out_h) + WINDOW_SIZE - 1))
            for p in range(planes) for r in range(0, out_h, rows)]


def ssim_of_planes(x: Tensor, y: Tensor, *, dtype: torch.dtype = FILTER_DTYPE,
                   scratch: Scratch | None = None) -> Tensor:
    """Mean SSIM of each pair of prepared (N,C,H,W) planes in 0..255, averaged over C -> (N,).

    ``dtype``: precision of the filtering (float64 gives the exact reference); the result is
    float64 (float32 on MPS, which has no float64). ``scratch``: where the work tensors go.
    """
    n, c, h, w = x.shape
    if min(h, w) < WINDOW_SIZE:
        raise SrkitError(f"ssim: images are {h}x{w} after cropping, smaller than the {WINDOW_SIZE}px window")
    if x.device.type == "mps":
        dtype = torch.float32
    x, y = x.reshape(n * c, h, w), y.reshape(n * c, h, w)
    scratch = scratch or Scratch()
    pieces = _cpu_pieces(n * c, h, w) if x.device.type == "cpu" else [(slice(None), slice(None))]
    with one_cpu_thread(x.device):
        if len(pieces) == 1:
            sums = _ssim_sums(x, y, TAPS, dtype, scratch)
        else:
            sums = torch.zeros(n * c, dtype=metric_dtype(x.device))
            for planes, rows in pieces:
                sums[planes] += _ssim_sums(x[planes, rows], y[planes, rows], TAPS, dtype, scratch)
    means = sums / ((h - WINDOW_SIZE + 1) * (w - WINDOW_SIZE + 1))
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
    (scores,) = score_pairs(sr, hr, crop=crop, y_channel=y_channel, name="ssim",
                            scores=lambda x, y, scratch: (ssim_of_planes(x, y, scratch=scratch),))
    return scores
