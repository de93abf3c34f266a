"""Turn an (SR, HR) pair into the 8-bit, cropped planes both metrics compare."""

from __future__ import annotations

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.metrics.color import quantize, rgb_to_y


def metric_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (metrics must not drift with precision), else float32."""
    return torch.float32 if device.type == "mps" else torch.float64


def prepare_pair(
    sr: Tensor, hr: Tensor, *, crop: int, y_channel: bool, name: str
) -> tuple[Tensor, Tensor]:
    """Validate, quantise, convert and crop a pair of image batches.

    Args:
        sr, hr: (N,C,H,W) or (C,H,W) images in [0, 1] of one shape (C = 3, or 1 for grey).
        crop: pixels removed from every border before comparing.
        y_channel: compare the BT.601 luma (see :func:`rgb_to_y`) instead of the channels.

    Returns:
        Two (N,C',H-2*crop,W-2*crop) tensors in 0..255 (C' = 1 for Y), in :func:`metric_dtype`.
    """
    if sr.shape != hr.shape:
        raise SrkitError(f"{name}: SR {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    if sr.dim() == 3:
        sr, hr = sr.unsqueeze(0), hr.unsqueeze(0)
    if sr.dim() != 4:
        raise SrkitError(f"{name}: expected (N,C,H,W) images, got shape {tuple(sr.shape)}")
    if crop < 0 or 2 * crop >= min(sr.shape[-2:]):
        raise SrkitError(f"{name}: cannot crop {crop} px from {sr.shape[-2]}x{sr.shape[-1]} images")
    dtype = metric_dtype(sr.device)
    planes = []
    for image in (sr, hr):
        image = quantize(image.to(dtype))
        if y_channel:
            image = rgb_to_y(image)
        if crop:
            image = image[..., crop:-crop, crop:-crop]
        planes.append(image * 255)
    return planes[0], planes[1]
