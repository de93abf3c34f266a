"""Turn an (SR, HR) pair into the 8-bit, cropped planes both metrics compare."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.metrics.color import DEFAULT_Y_MODE, check_y_mode, luma_of_levels, to_levels
from srkit.metrics.scratch import Scratch
from srkit.threads import one_cpu_thread

#: On a CPU, pairs are prepared and scored a few images at a time (about this many pixels per
#: chunk), so an image's 8-bit planes are still in the cache when its scores are computed
#: (preparing the whole batch first was slower: ``benchmarks/metrics_vs_numpy.py`` times the
#: batched call against the same call image by image). Other devices take the whole batch.
CPU_CHUNK_PIXELS = 1 << 17

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


#: Prepared pairs come as one (STACK_PLANES, N, C', H, W) tensor: the SR planes, the HR planes,
#: then two work planes that a score may overwrite (PSNR's difference, SSIM's x² + y² and xy),
#: so no score copies the prepared planes again. SSIM uses the whole stack as work space, so
#: scores that read the prepared planes run before it.
STACK_PLANES = 4


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
    sr, hr = _checked_pair(sr, hr, crop=crop, name=name)
    with one_cpu_thread(sr.device):
        stack = _prepared_stack(sr, hr, crop, y_mode_of(y_channel), Scratch())
    return stack[0], stack[1]


#: What :func:`score_pairs` applies to a prepared stack: (stack, scratch) -> (n,) tensors.
Scores = Callable[[Tensor, Scratch], tuple[Tensor, ...]]


def score_pairs(sr: Tensor, hr: Tensor, *, crop: int, y_channel: YChannel, name: str,
                scores: Scores) -> tuple[Tensor, ...]:
    """``scores`` of the pairs :func:`prepare_pair` prepares, each result a (N,) tensor.

    Same arguments as :func:`prepare_pair`. ``scores`` maps a prepared (STACK_PLANES,n,C',h,w)
    stack (see :data:`STACK_PLANES`) and the call's :class:`Scratch` to (n,) tensors. On a CPU
    it runs on chunks of :data:`CPU_CHUNK_PIXELS` (the results are joined), on one thread;
    elsewhere on the whole batch in one call.
    """
    sr, hr = _checked_pair(sr, hr, crop=crop, name=name)
    mode, scratch = y_mode_of(y_channel), Scratch()
    if sr.device.type != "cpu":
        return scores(_prepared_stack(sr, hr, crop, mode, scratch), scratch)
    images = max(1, CPU_CHUNK_PIXELS // (sr.shape[-2] * sr.shape[-1]))
    with one_cpu_thread(sr.device):
        stacks = (_prepared_stack(sr[i : i + images], hr[i : i + images], crop, mode, scratch)
                  for i in range(0, sr.shape[0], images))
        chunks = [scores(stack, scratch) for stack in stacks]
    return tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))


def _checked_pair(sr: Tensor, hr: Tensor, *, crop: int, name: str) -> tuple[Tensor, Tensor]:
    sr, hr = _as_batch(sr, name, "SR"), _as_batch(hr, name, "HR")
    if sr.shape[0] != hr.shape[0] or sr.shape[-2:] != hr.shape[-2:]:
        raise SrkitError(f"{name}: SR {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in size")
    if crop < 0 or 2 * crop >= min(sr.shape[-2:]):
        raise SrkitError(f"{name}: cannot crop {crop} px from {sr.shape[-2]}x{sr.shape[-1]} images")
    return sr, hr


def _prepared_stack(sr: Tensor, hr: Tensor, crop: int, mode: str | None, scratch: Scratch) -> Tensor:
    """The :data:`STACK_PLANES` stack of a checked pair, in ``scratch``; planes 2 and 3 unset."""
    if crop:  # views: the conversions below then touch only the compared pixels
        sr, hr = sr[..., crop:-crop, crop:-crop], hr[..., crop:-crop, crop:-crop]
    dtype = metric_dtype(sr.device)
    grey_reference = hr.shape[1] == 1
    channels = max(sr.shape[1], hr.shape[1]) if mode is None else 1
    stack = scratch.tensor("prepared pair", (STACK_PLANES, sr.shape[0], channels, *sr.shape[2:]),
                           dtype=dtype, device=sr.device)
    for plane, images in zip(stack[:2], (sr, hr), strict=True):
        if images.shape[1] == channels and (mode is None or grey_reference):
            to_levels(images, out=plane)  # the levels are what is compared
            continue
        # Levels of each channel go to a work tensor, reused for the SR's and then the HR's.
        levels = to_levels(images, out=scratch.tensor("levels", images.shape, dtype=dtype, device=sr.device))
        if mode is None:  # a grey image against a colour one: R = G = B
            plane.copy_(levels.expand_as(plane))
        else:
            luma_of_levels(levels, 1, rounded=mode == "matlab", grey=grey_reference, out=plane)
    return stack
