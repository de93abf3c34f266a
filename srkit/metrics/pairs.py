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
        return _levels_and_luma(sr, hr, crop, y_mode_of(y_channel), Scratch())


#: What :func:`score_pairs` applies to prepared planes: (x, y, scratch) -> (n,) tensors.
Scores = Callable[[Tensor, Tensor, Scratch], tuple[Tensor, ...]]


def score_pairs(sr: Tensor, hr: Tensor, *, crop: int, y_channel: YChannel, name: str,
                scores: Scores) -> tuple[Tensor, ...]:
    """``scores`` of the planes :func:`prepare_pair` makes, each result a (N,) tensor.

    Same arguments as :func:`prepare_pair`. ``scores`` maps two prepared (n,C',h,w) planes and
    the call's :class:`Scratch` to (n,) tensors. On a CPU it runs on chunks of
    :data:`CPU_CHUNK_PIXELS` (the results are joined), on one thread; elsewhere on the whole
    batch in one call.
    """
    sr, hr = _checked_pair(sr, hr, crop=crop, name=name)
    mode, scratch = y_mode_of(y_channel), Scratch()
    if sr.device.type != "cpu":
        return scores(*_levels_and_luma(sr, hr, crop, mode, scratch), scratch)
    images = max(1, CPU_CHUNK_PIXELS // (sr.shape[-2] * sr.shape[-1]))
    with one_cpu_thread(sr.device):
        chunks = [scores(*_levels_and_luma(sr[i : i + images], hr[i : i + images], crop, mode, scratch),
                         scratch)
                  for i in range(0, sr.shape[0], images)]
    return tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))


def _checked_pair(sr: Tensor, hr: Tensor, *, crop: int, name: str) -> tuple[Tensor, Tensor]:
    sr, hr = _as_batch(sr, name, "SR"), _as_batch(hr, name, "HR")
    if sr.shape[0] != hr.shape[0] or sr.shape[-2:] != hr.shape[-2:]:
        raise SrkitError(f"{name}: SR {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in size")
    if crop < 0 or 2 * crop >= min(sr.shape[-2:]):
        raise SrkitError(f"{name}: cannot crop {crop} px from {sr.shape[-2]}x{sr.shape[-1]} images")
    return sr, hr


def _levels_and_luma(sr: Tensor, hr: Tensor, crop: int, mode: str | None,
                     scratch: Scratch) -> tuple[Tensor, Tensor]:
    if crop:  # views: the conversions below then touch only the compared pixels
        sr, hr = sr[..., crop:-crop, crop:-crop], hr[..., crop:-crop, crop:-crop]
    dtype = metric_dtype(sr.device)

    def levels(name: str, images: Tensor) -> Tensor:
        return to_levels(images, out=scratch.tensor(name, images.shape, dtype=dtype, device=images.device))

    def luma(name: str, of_levels: Tensor, grey: bool = False) -> Tensor:
        shape = (of_levels.shape[0], 1, *of_levels.shape[2:])
        out = scratch.tensor(name, shape, dtype=dtype, device=of_levels.device)
        return luma_of_levels(of_levels, 1, rounded=mode == "matlab", grey=grey, out=out)

    if mode is None:
        channels = max(sr.shape[1], hr.shape[1])
        return (levels("sr levels", sr).expand(-1, channels, -1, -1),
                levels("hr levels", hr).expand(-1, channels, -1, -1))
    if hr.shape[1] == 1:  # a grey reference: compare grey levels
        sr_levels = levels("sr levels", sr)
        if sr.shape[1] == 3:
            sr_levels = luma("sr luma", sr_levels, grey=True)
        return sr_levels, levels("hr levels", hr)
    # The SR's levels are done with before the HR's are made, in the same memory.
    return luma("sr luma", levels("levels", sr)), luma("hr luma", levels("levels", hr))
