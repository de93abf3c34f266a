"""The degradation steps, each on a batch (N,3,H,W) in [0, 1]: resize, noise, JPEG."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from srkit.api import imresize

RESIZE_MODES = ("bicubic", "bilinear", "area")


def resize(images: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Resize to ``size`` (h, w): ``bicubic`` is MATLAB's antialiased imresize, ``bilinear``
    PyTorch's (antialiased when shrinking), ``area`` PyTorch's box average (adaptive pooling)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    if mode == "bicubic":
        return imresize(images, size=size)
    if mode == "bilinear":
        shrink = size[0] < images.shape[-2] or size[1] < images.shape[-1]
        return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    if mode == "area":
        return F.interpolate(images, size=size, mode="area")
    raise ValueError(f"unknown resize mode {mode!r} (expected one of {', '.join(RESIZE_MODES)})")


def _luma(images: Tensor) -> Tensor:
    weights = images.new_tensor([0.299, 0.587, 0.114])[None, :, None, None]
    return (images * weights).sum(1, keepdim=True)


def gaussian_noise(images: Tensor, sigma: Tensor, grey: Tensor, generator: torch.Generator | None) -> Tensor:
    """Add N(0, sigma^2) noise; ``sigma`` (N,) in [0, 1] units; ``grey`` (N,) bool: one noise plane
    shared by the three channels (luminance noise) instead of one per channel."""
    n, c, h, w = images.shape
    device = generator.device if generator is not None else images.device
    noise = torch.randn((n, c, h, w), generator=generator, device=device).to(images)
    noise = torch.where(grey.to(images.device)[:, None, None, None], noise[:, :1].expand_as(noise), noise)
    return images + noise * sigma.to(images)[:, None, None, None]


def poisson_noise(images: Tensor, scale: Tensor, grey: Tensor, generator: torch.Generator | None) -> Tensor:
    """Add shot noise: an 8-bit level v is read as v photons, noise = (Poisson(v) - v) / 255,
    times ``scale`` (N,); ``grey`` images get the noise of their luma on all channels."""
    device = generator.device if generator is not None else images.device
    grey = grey.to(images.device)[:, None, None, None]
    source = torch.where(grey, _luma(images).expand_as(images), images)
    counts = (source.clamp(0, 1) * 255).round()
    drawn = torch.poisson(counts.to(device, torch.float32), generator=generator).to(images)
    noise = (drawn - counts) / 255
    noise = torch.where(grey, noise[:, :1].expand_as(noise), noise)
    return images + noise * scale.to(images)[:, None, None, None]


def jpeg(images: Tensor, quality: Tensor) -> Tensor:
    """JPEG round trip of each image through Pillow (CPU, 4:2:0 chroma), ``quality`` (N,) ints 1..100."""
    pixels = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = []
    for array, q in zip(pixels, quality.tolist(), strict=True):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=int(q))
        buffer.seek(0)
        with Image.open(buffer) as image:
            decoded.append(np.asarray(image.convert("RGB")))
    batch = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2)
    return batch.to(device=images.device, dtype=images.dtype) / 255
