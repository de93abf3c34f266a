"""MATLAB-compatible bicubic ``imresize`` for batched torch tensors.

Published super-resolution numbers are measured on LR images made by MATLAB's
``imresize(hr, 1/scale, 'bicubic')``; other bicubic implementations (PIL, OpenCV,
``F.interpolate``) shift PSNR by tenths of a dB. This module reproduces MATLAB's
``contributions()``: a cubic kernel with a = -0.5, widened by ``1/scale`` when
shrinking (antialiasing), ``ceil(kernel width) + 2`` taps per output pixel centred at
``x / scale + 0.5 * (1 - 1 / scale)``, weights normalised to sum to one and
symmetric (edge-repeating) padding at the borders.

Each dimension's resampling is a dense ``(out, in)`` matrix, so a resize of typical
images is two batched matrix multiplies on whatever device they live on; long lines
switch to summing each output pixel's few taps, whose cost grows linearly with size.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from srkit.errors import SrkitError

#: MATLAB's bicubic kernel spans [-2, 2] input pixels at scale 1.
KERNEL_WIDTH = 4.0
#: A dimension is resampled by a dense matrix multiply (fast, BLAS) while its input length is
#: at most this many times the taps per output pixel; longer lines gather their few taps
#: instead, in time linear in the size (a dense matrix costs in*out per line).
DENSE_TAPS_RATIO = 32


def cubic(x: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    absx = x.abs()
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * ((absx > 1) & (absx <= 2))
    return near + far


def resize_taps(in_length: int, out_length: int, scale: float) -> tuple[Tensor, Tensor]:
    """MATLAB's ``contributions()``: which inputs each output pixel of one dimension reads.

    ``scale`` is the output/input ratio MATLAB uses for this dimension; below 1 the
    kernel is stretched by ``1 / scale`` (antialiasing).

    Returns:
        ``(indices, weights)``, both ``(out_length, taps)``: 0-based input indices (already
        mirrored into range) and float64 weights summing to 1 per row. Tap columns whose
        weights are all zero are dropped, as MATLAB does.
    """
    if scale < 1:
        width = KERNEL_WIDTH / scale

        def kernel(x: Tensor) -> Tensor:
            return scale * cubic(scale * x)

    else:
        width = KERNEL_WIDTH
        kernel = cubic
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    centre = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(centre - width / 2)
    taps = math.ceil(width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    weights = kernel(centre[:, None] - indices)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric padding, as MATLAB's aux = [1:in, in:-1:1] indexed cyclically (1-based).
    period = 2 * in_length
    folded = torch.remainder(indices.long() - 1, period)
    zero_based = torch.where(folded < in_length, folded, period - 1 - folded)
    used = weights.ne(0).any(dim=0)
    return zero_based[:, used], weights[:, used]


def resize_matrix(in_length: int, out_length: int, scale: float) -> Tensor:
    """The float64 ``(out_length, in_length)`` matrix that resamples one dimension."""
    indices, weights = resize_taps(in_length, out_length, scale)
    return torch.zeros(out_length, in_length, dtype=torch.float64).scatter_add_(1, indices, weights)


def _resize_dim(x: Tensor, dim: int, out_length: int, scale: float) -> Tensor:
    """Resample dimension ``dim`` (-2 or -1) of ``x``, in ``x``'s dtype."""
    in_length = x.shape[dim]
    indices, weights = resize_taps(in_length, out_length, scale)
    if in_length <= DENSE_TAPS_RATIO * indices.shape[1]:
        matrix = resize_matrix(in_length, out_length, scale).to(device=x.device, dtype=x.dtype)
        return torch.matmul(matrix, x) if dim == -2 else torch.matmul(x, matrix.T)
    # Long lines: a dense matrix would cost in*out per line; read only each output's taps,
    # gathering whole rows (contiguous) rather than scattered columns.
    lines = x if dim == -2 else x.transpose(-1, -2).contiguous()
    indices = indices.to(x.device)
    weights = weights.to(device=x.device, dtype=x.dtype)[:, :, None]
    result = lines.index_select(-2, indices[:, 0]) * weights[:, 0]
    for tap in range(1, indices.shape[1]):
        result.add_(lines.index_select(-2, indices[:, tap]) * weights[:, tap])
    return result if dim == -2 else result.transpose(-1, -2).contiguous()


def _output_length(in_length: int, scale: float) -> int:
    # MATLAB uses ceil(scale * in); the tolerance keeps 1/3 * 255 from becoming 86.
    return max(1, math.ceil(in_length * scale - 1e-9))


def _compute_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    if dtype == torch.float64:
        return torch.float64
    # TF32/bf16 matmuls (enabled for training speed) keep ~3 decimal digits: enough to flip
    # 8-bit LR values. Resampling in float64 then keeps the protocol's numbers stable.
    if torch.get_float32_matmul_precision() != "highest" and device.type != "mps":
        return torch.float64
    return torch.float32


def imresize(x: Tensor, scale: float | None = None, *, size: tuple[int, int] | None = None) -> Tensor:
    """Resize images like MATLAB's ``imresize(x, scale, 'bicubic')``.

    Args:
        x: float images (N,C,H,W) or (C,H,W), any range (no clamping happens here).
        scale: output/input size ratio for both dimensions; the output is
            ``ceil(scale * H) x ceil(scale * W)``.
        size: ``(out_h, out_w)`` instead of ``scale``; each dimension then uses its own
            ratio ``out / in``, as MATLAB does.

    Returns:
        Resized images with the input's shape rank, dtype and device. Half-precision
        inputs are computed in float32 (float64 while reduced-precision float32 matmuls
        are enabled) and cast back.
    """
    if (scale is None) == (size is None):
        raise SrkitError("imresize: give exactly one of scale or size")
    if x.dim() not in (3, 4):
        raise SrkitError(f"imresize: expected (N,C,H,W) or (C,H,W) images, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise SrkitError(f"imresize: expected a float tensor, got {x.dtype}")
    in_h, in_w = x.shape[-2:]
    if scale is not None:
        if not (scale > 0 and math.isfinite(scale)):
            raise SrkitError(f"imresize: scale must be a positive number, got {scale}")
        out_h, out_w = _output_length(in_h, scale), _output_length(in_w, scale)
        scale_h = scale_w = float(scale)
    else:
        assert size is not None
        out_h, out_w = (int(s) for s in size)
        if out_h < 1 or out_w < 1:
            raise SrkitError(f"imresize: output size must be positive, got {size}")
        scale_h, scale_w = out_h / in_h, out_w / in_w

    y = x.to(_compute_dtype(x.dtype, x.device))
    # MATLAB resizes the dimension with the smallest scale first (rows on a tie). The two
    # passes commute mathematically; the order only matters for rounding and speed.
    if scale_h <= scale_w:
        y = _resize_dim(_resize_dim(y, -2, out_h, scale_h), -1, out_w, scale_w)
    else:
        y = _resize_dim(_resize_dim(y, -1, out_w, scale_w), -2, out_h, scale_h)
    return y.to(x.dtype)
