"""Turn an (SR, HR) pair into the 8-bit, cropped planes both metrics compare."""

from __future__ import annotations

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.metrics.color import DEFAULT_Y_MODE, check_y_mode, luma_of_levels, to_levels
from srkit.metrics.threads import one_cpu_thread

#: what ``y_channel`` may be: a mode of :data:`srkit.metrics.color.Y_MODES`, True (the default
#: mode) or False (compare every RGB channel).
YChannel = bool | str


def metric_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (metrics must not drift with precision), else float32."""
    return torch.float32 if device.type == "mps" else torch.float64


def _as_batch(images: Tensor, name: str, role: str) -> Tensor:
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise SrkitError(f"{name}: {role} must be (N,3,H,W) or (N,1,H,W) images, got {tuple(images.shape)}")
    return images


def y_mode_of(y_channel: YChannel) -> str | None:
    """The luma mode ``y_channel`` asks for (``"matlab"`` or ``"basicsr"``), None for RGB."""
    if y_channel is True:
        return DEFAULT_Y_MODE
    if y_channel is False:
        return None
    return check_y_mode(y_channel)


def prepare_pair(sr: Tensor, hr: Tensor, *, crop: int, y_channel: YChannel,
                 name: str) -> tuple[Tensor, Tensor]:
    """Validate, quantise, convert and crop a pair of image batches.

    Args:
        sr: (N,3,H,W) or (3,H,W) images in [0, 1] (one channel is accepted as grey).
        hr: the references, same shape as ``sr``; a single-channel reference is grey.
        crop: pixels removed from every border before comparing.
        y_channel: compare luma as MATLAB evaluation scripts do: BT.601 Y in [16, 235]
            (:func:`rgb_to_y`) against a colour reference; the grey level 0..255 against a
            grey reference, the SR converted like ``rgb2gray`` (:func:`rgb_to_grey`).
            ``"matlab"`` (or True) rounds the luma to integers as MATLAB does on ``uint8``
            images, ``"basicsr"`` keeps it unrounded. False compares every channel (a grey
            image counts as R = G = B).

    Returns:
        Two (N,C',H-2*crop,W-2*crop) tensors in 0..255 in :func:`metric_dtype`.
    """
    sr, hr = _as_batch(sr, name, "SR"), _as_batch(hr, name, "HR")
    if sr.shape[0] != hr.shape[0] or sr.shape[-2:] != hr.shape[-2:]:
        raise SrkitError(f"{name}: SR {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in size")
    if crop < 0 or 2 * crop >= min(sr.shape[-2:]):
        raise SrkitError(f"{name}: cannot crop {crop} px from {sr.shape[-2]}x{sr.shape[-1]} images")
    with one_cpu_thread(sr.device):
        return _levels_and_luma(sr, hr, crop, y_mode_of(y_channel))


def _levels_and_luma(sr: Tensor, hr: Tensor, crop: int, mode: str | None) -> tuple[Tensor, Tensor]:
    if crop:  # views: the conversions below then touch only the compared pixels
        sr, hr = sr[..., crop:-crop, crop:-crop], hr[..., crop:-crop, crop:-crop]
    dtype = metric_dtype(sr.device)
    sr, hr = to_levels(sr, dtype), to_levels(hr, dtype)
    if mode is None:
        channels = max(sr.shape[1], hr.shape[1])
        return sr.expand(-1, channels, -1, -1), hr.expand(-1, channels, -1, -1)
    rounded = mode == "matlab"
    if hr.shape[1] == 1:  # a grey reference: compare grey levels
        if sr.shape[1] == 3:
            sr = luma_of_levels(sr, 1, rounded=rounded, grey=True)
        return sr, hr
    return luma_of_levels(sr, 1, rounded=rounded), luma_of_levels(hr, 1, rounded=rounded)
