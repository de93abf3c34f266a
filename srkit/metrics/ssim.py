"""Structural similarity as in Wang et al.'s ``ssim_index.m``, used by SR papers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.metrics.pairs import STACK_PLANES, YChannel, metric_dtype, score_pairs
from srkit.metrics.scratch import Scratch
from srkit.threads import one_cpu_thread

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2, DYNAMIC_RANGE = 0.01, 0.03, 255.0
#: The local statistics are filtered in float64. float32 would cut the memory traffic, but
#: ``E[x²] - E[x]²`` cancels catastrophically on flat bright regions: more than 1e-6 SSIM off on
#: near-flat planes (tests/test_metrics.py) and 3.1e-6 on Set14 coastguard.png (docs/evaluation.md).
FILTER_DTYPE = torch.float64
#: On a CPU, SSIM is computed on pieces of about this many output pixels: a few whole planes of
#: small images, strips of rows of large ones, so a piece's four statistics planes stay in the
#: cache between the 20 filter passes (on megapixel images, strips took about half the time of
#: whole planes; half and twice this size were slower). Other devices take the whole batch.
CPU_PIECE_PIXELS = 1 << 17


def gaussian_taps(size: int, sigma: float) -> list[float]:
    """Normalised 1-D Gaussian; its outer product is MATLAB's ``fspecial('gaussian', size, sigma)``."""
    weights = [math.exp(-((k - (size - 1) / 2) ** 2) / (2 * sigma * sigma)) for k in range(size)]
    total = sum(weights)
    return [w / total for w in weights]


#: The 1-D Gaussian of the window, whose outer product is the 11x11 window.
TAPS = tuple(gaussian_taps(WINDOW_SIZE, WINDOW_SIGMA))
#: The same weights divided by the first: filtering with them starts with an add instead of a
#: multiply (a pass fewer in each direction) and leaves every filtered plane WINDOW_SCALE times
#: too large. SSIM is a ratio of products of two filtered values, so that factor cancels once
#: the second-moment planes and the constants are scaled to match (see :func:`_ssim_sums`).
RELATIVE_TAPS = tuple(tap / TAPS[0] for tap in TAPS)
WINDOW_SCALE = 1 / TAPS[0] ** 2


def _filter_valid(planes: Tensor, weights: Sequence[float], scratch: Scratch,
                  out: Tensor | None = None) -> Tensor:
    """'valid' separable filtering of (..., H, W) planes -> (..., H-size+1, W-size+1).

    ``weights``: 1-D weights whose first is 1 (:data:`RELATIVE_TAPS`), so the first two taps
    are one add. Two 1-D passes (columns, then rows) that accumulate shifted slices in place: no padding,
    no intermediate copies, and on a CPU much faster than a single-channel ``conv2d``. ``out``:
    where the result goes (it may be ``planes``' own memory), else a scratch tensor.
    """
    size = len(weights)
    h, w = planes.shape[-2:]
    dtype, device = planes.dtype, planes.device
    rows = scratch.tensor("ssim rows", (*planes.shape[:-2], h - size + 1, w), dtype=dtype, device=device)
    torch.add(planes[..., : h - size + 1, :], planes[..., 1 : h - size + 2, :], alpha=weights[1], out=rows)
    for k in range(2, size):
        rows.add_(planes[..., k : h - size + 1 + k, :], alpha=weights[k])
    if out is None:
        out = scratch.tensor("ssim filtered", (*rows.shape[:-1], w - size + 1), dtype=dtype, device=device)
    torch.add(rows[..., : w - size + 1], rows[..., 1 : w - size + 2], alpha=weights[1], out=out)
    for k in range(2, size):
        out.add_(rows[..., k : w - size + 1 + k], alpha=weights[k])
    return out


def _ssim_sums(stats: Tensor, scratch: Scratch, *, overwrite: bool = False) -> Tensor:
    """Sum of the SSIM map of each pair of (P,H,W) planes in 0..255 of a (4,P,H,W) stack -> (P,).

    ``stats`` holds x, y and two work planes, which get x² + y² and xy (plus constants): SSIM
    needs only ``var_x + var_y``, so four planes are filtered, not five. ``overwrite``: the
    filtered planes go over ``stats`` itself (contiguous, not needed after), which spares the
    CPU a fresh 4-plane buffer to pull into its cache for each chunk.
    """
    x, y, squares, products = stats
    dtype, device = stats.dtype, stats.device
    # Filtering with RELATIVE_TAPS multiplies by WINDOW_SCALE (s): the means come out as s mu.
    # The squares and products are made s times larger and every constant s² times, so that
    # every factor of SSIM comes out s² times too large and the ratio is SSIM itself.
    scale = WINDOW_SCALE
    c1, c2 = scale * scale * (K1 * DYNAMIC_RANGE) ** 2, scale * scale * (K2 * DYNAMIC_RANGE) ** 2

    def constant(value: float) -> Tensor:
        return torch.full((), value, dtype=dtype, device=device)

    # The constants ride along from the start (filtering keeps a constant, times s): the planes
    # are s (x² + y²) + (c1 + c2) / s and 2 s xy + (c1 + c2) / s, which saves a pass each below.
    torch.addcmul(constant((c1 + c2) / scale), x, x, value=scale, out=squares).addcmul_(y, y, value=scale)
    torch.addcmul(constant((c1 + c2) / scale), x, y, value=2 * scale, out=products)
    out = None
    if overwrite:
        planes, h, w = stats.shape[1:]
        size = (planes, h - WINDOW_SIZE + 1, w - WINDOW_SIZE + 1)
        out = stats.view(-1)[: STACK_PLANES * math.prod(size)].view(STACK_PLANES, *size)
    mu_x, mu_y, squares, products = _filter_valid(stats, RELATIVE_TAPS, scratch, out)
    # SSIM = ((2 mu_x mu_y + c1)(2 cov + c2)) / ((mu_x² + mu_y² + c1)(var_x + var_y + c2)) with
    # 2 cov + c2 = (2 E[xy] + c1 + c2) - (2 mu_x mu_y + c1) and
    # var_x + var_y + c2 = (E[x² + y²] + c1 + c2) - (mu_x² + mu_y² + c1), all in place but one.
    # In the memory of the row pass, done with and still in the cache.
    luminance = scratch.tensor("ssim rows", mu_x.shape, dtype=dtype, device=device)
    torch.addcmul(constant(c1), mu_x, mu_y, value=2, out=luminance)
    brightness = torch.addcmul(constant(c1), mu_x, mu_x, out=mu_x).addcmul_(mu_y, mu_y)
    contrast, spread = products.sub_(luminance), squares.sub_(brightness)
    ssim_map = luminance.mul_(contrast).div_(brightness.mul_(spread))
    return ssim_map.flatten(1).sum(dim=1, dtype=metric_dtype(device))


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
    if x.device.type == "mps":
        dtype = torch.float32
    scratch = scratch or Scratch()
    stack = scratch.tensor("ssim stack", (STACK_PLANES, *x.shape), dtype=dtype, device=x.device)
    stack[0], stack[1] = x, y
    return ssim_of_stack(stack, scratch=scratch).to(metric_dtype(x.device))


def ssim_of_stack(stack: Tensor, *, scratch: Scratch | None = None) -> Tensor:
    """:func:`ssim_of_planes` of a prepared stack (:data:`STACK_PLANES`), filtered in its dtype.

    Uses the stack as work space (no copy of the prepared planes is made): afterwards it holds
    none of the prepared planes.
    """
    _, n, c, h, w = stack.shape
    if min(h, w) < WINDOW_SIZE:
        raise SrkitError(f"ssim: images are {h}x{w} after cropping, smaller than the {WINDOW_SIZE}px window")
    stats = stack.view(STACK_PLANES, n * c, h, w)
    scratch = scratch or Scratch()
    device = stack.device
    pieces = _cpu_pieces(n * c, h, w) if device.type == "cpu" else [(slice(None), slice(None))]
    with one_cpu_thread(device):
        if len(pieces) == 1:
            sums = _ssim_sums(stats, scratch, overwrite=True)
        else:
            sums = torch.zeros(n * c, dtype=metric_dtype(device))
            for planes, rows in pieces:
                sums[planes] += _ssim_sums(stats[:, planes, rows], scratch)
    means = sums / ((h - WINDOW_SIZE + 1) * (w - WINDOW_SIZE + 1))
    return means.view(n, c).mean(dim=1)


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
                            scores=lambda stack, scratch: (ssim_of_stack(stack, scratch=scratch),))
    return scores
