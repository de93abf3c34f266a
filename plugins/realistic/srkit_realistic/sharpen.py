"""Unsharp masking (USM) as Real-ESRGAN sharpens its ground truth (BasicSR's ``USMSharp``).

``out = mask * clip(x + weight * (x - blur(x))) + (1 - mask) * x``: the residual against a wide
Gaussian blur is added back where it exceeds ``threshold`` 8-bit levels, with the mask itself
blurred so the sharpened regions fade in. Defaults: radius 50 (a 51-tap kernel, OpenCV's sigma
for that size: 8), weight 0.5, threshold 10.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def gaussian_taps(size: int, sigma: float = 0.0) -> Tensor:
    """A normalised 1-D Gaussian of ``size`` taps; ``sigma <= 0`` picks OpenCV's
    ``0.3 * ((size - 1) / 2 - 1) + 0.8`` (``cv2.getGaussianKernel``)."""
    if sigma <= 0:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    taps = torch.exp(-(x**2) / (2 * sigma**2))
    return (taps / taps.sum()).to(torch.float32)


def _separable_blur(images: Tensor, taps: Tensor) -> Tensor:
    """Blur (N,C,H,W) with the outer product of ``taps`` with itself, reflect-padded (replicate
    where the image is too small to reflect), as two 1-D passes."""
    n, c, h, w = images.shape
    radius = taps.numel() // 2
    taps = taps.to(images)
    planes = images.reshape(n * c, 1, h, w)
    mode_h = "reflect" if radius < h else "replicate"
    mode_w = "reflect" if radius < w else "replicate"
    planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode=mode_h), taps.view(1, 1, -1, 1))
    planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode=mode_w), taps.view(1, 1, 1, -1))
    return planes.reshape(n, c, h, w)


def unsharp_mask(images: Tensor, radius: int = 50, weight: float = 0.5, threshold: float = 10.0) -> Tensor:
    """Sharpened (N,C,H,W) images in [0, 1]; ``radius`` is rounded up to an odd tap count."""
    size = radius + 1 if radius % 2 == 0 else radius
    taps = gaussian_taps(size)
    with torch.no_grad():
        residual = images - _separable_blur(images, taps)
        mask = _separable_blur((residual.abs() * 255 > threshold).to(images.dtype), taps)
        sharpened = (images + weight * residual).clamp(0, 1)
        return mask * sharpened + (1 - mask) * images
