"""Running a generator on images of any size: tiling, self-ensemble, precision, OOM fallback.

Everything here works on the srkit convention (float (N,3,H,W) RGB in [0, 1]); :func:`upscale`
also accepts PIL images and paths, so a notebook can go from a photo to a result in one call.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, overload

import torch
from PIL import Image
from torch import Tensor, nn

from srkit.data.augment import dihedral, dihedral_inverse
from srkit.errors import SrkitError
from srkit.imageio import pil_to_tensor, tensor_to_pil

PRECISIONS = ("fp32", "bf16", "fp16")
#: LR pixels of context added on each side of a tile; larger than the receptive field of the
#: shipped generators' local paths, so tiled and whole-image results agree.
DEFAULT_OVERLAP = 16
#: smallest LR tile the out-of-memory fallback tries before giving up.
MIN_TILE = 32
#: LR tile side of :func:`upscale_streamed` when none is given
STREAM_TILE = 256

Forward = Callable[[Tensor], Tensor]


def model_device(model: nn.Module, default: str | torch.device = "cpu") -> torch.device:
    """The device of the model's first parameter or buffer (``default`` for parameter-free ones)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device(default)


def autocast_context(precision: str, device: torch.device) -> AbstractContextManager[Any]:
    """Autocast for ``bf16``/``fp16`` (fp16 only on CUDA), a no-op for ``fp32``."""
    if precision not in PRECISIONS:
        raise SrkitError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise SrkitError(f"precision fp16: only supported on CUDA, not on {device.type} (use bf16)")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def self_ensemble(forward: Forward, lr: Tensor) -> Tensor:
    """x8 geometric test-time augmentation: the mean of the 8 inverse-transformed outputs."""
    total: Tensor | None = None
    for index in range(8):
        out = dihedral_inverse(forward(dihedral(lr, index)).float(), index)
        total = out if total is None else total + out
    assert total is not None
    return total / 8


def tiled_forward(forward: Forward, lr: Tensor, scale: int, tile: int,
                  overlap: int = DEFAULT_OVERLAP) -> Tensor:
    """Run ``forward`` on ``tile`` x ``tile`` LR tiles with ``overlap`` pixels of context each side.

    Each tile's output is cropped back to its own region before it is pasted, so the result
    equals the whole-image output (up to float rounding) whenever the model's receptive field
    is within ``overlap`` LR pixels. lr: (N,3,h,w) -> (N,3,h*scale,w*scale) float32.
    """
    n, _, h, w = lr.shape
    out: Tensor | None = None
    for top, left, core in tile_outputs(forward, lr, scale, tile, overlap):
        if out is None:
            out = lr.new_zeros((n, core.shape[1], h * scale, w * scale), dtype=torch.float32)
        out[:, :, top * scale:top * scale + core.shape[-2],
            left * scale:left * scale + core.shape[-1]] = core
    assert out is not None
    return out


def tile_outputs(forward: Forward, lr: Tensor, scale: int, tile: int,
                 overlap: int = DEFAULT_OVERLAP) -> Iterator[tuple[int, int, Tensor]]:
    """``(top, left, sr)`` for each LR tile at (top, left): its float32 SR, without the context."""
    if tile < 1 or overlap < 0:
        raise SrkitError(f"tile {tile} / overlap {overlap}: tile must be >= 1 and overlap >= 0")
    _, _, h, w = lr.shape
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(bottom + overlap, h), min(right + overlap, w)
            patch = forward(lr[:, :, y0:y1, x0:x1]).float()
            yield top, left, patch[:, :, (top - y0) * scale:(bottom - y0) * scale,
                                   (left - x0) * scale:(right - x0) * scale]


def upscale_streamed(model: nn.Module, lr: Tensor, *, tile: int | None = None,
                     overlap: int = DEFAULT_OVERLAP, precision: str = "fp32",
                     self_ensemble: bool = False) -> Image.Image:
    """SR of one (1,3,h,w) image assembled tile by tile into an 8-bit RGB Pillow image.

    For outputs too large to hold as float: only one tile is ever float. Without self-ensemble
    the pixels are those of quantising :func:`run_model`'s tiled output; with it, the eight
    transforms are averaged per tile.
    """
    from srkit.imageio import to_uint8

    scale = _model_scale(model)
    _, _, h, w = lr.shape
    canvas = Image.new("RGB", (w * scale, h * scale))

    def forward(x: Tensor) -> Tensor:
        with torch.no_grad(), autocast_context(precision, lr.device):
            return model(x)

    def tile_forward(x: Tensor) -> Tensor:
        return _self_ensemble(forward, x) if self_ensemble else forward(x).float()

    for top, left, core in tile_outputs(tile_forward, lr, scale, tile or STREAM_TILE, overlap):
        pixels = to_uint8(core[0].cpu()).permute(1, 2, 0).numpy()
        canvas.paste(Image.fromarray(pixels), (left * scale, top * scale))
    return canvas


_self_ensemble = self_ensemble  # for functions whose flag of that name hides it


def _is_out_of_memory(exc: BaseException) -> bool:
    message = str(exc).lower()
    return (isinstance(exc, torch.OutOfMemoryError) or "out of memory" in message
            or "can't allocate memory" in message)


def _run(model: nn.Module, lr: Tensor, *, tile: int | None, overlap: int, precision: str,
         ensemble: bool, scale: int) -> Tensor:
    device = lr.device

    def forward(x: Tensor) -> Tensor:
        with autocast_context(precision, device):
            return model(x)

    def whole_or_tiled(x: Tensor) -> Tensor:
        if tile is None:
            return forward(x).float()
        return tiled_forward(forward, x, scale, tile, overlap)

    with torch.no_grad():  # not inference_mode: callers may edit the result in place
        if ensemble:
            return self_ensemble(whole_or_tiled, lr)
        return whole_or_tiled(lr)


def run_model(model: nn.Module, lr: Tensor, *, tile: int | None = None,
              overlap: int = DEFAULT_OVERLAP, precision: str = "fp32",
              self_ensemble: bool = False) -> Tensor:
    """SR of an LR batch: (N,3,h,w) in [0, 1] on the model's device -> (N,3,h*s,w*s) float32.

    Not clamped. When memory runs out (CUDA out-of-memory, or a failed CPU allocation) the
    batch is retried in tiles, halving the tile size until it fits (with a warning), down to
    :data:`MIN_TILE` LR pixels.
    """
    scale = _model_scale(model)
    if tile is not None and tile < 1:
        raise SrkitError(f"tile {tile}: must be a positive number of LR pixels")
    options: dict[str, Any] = dict(overlap=overlap, precision=precision, ensemble=self_ensemble,
                                   scale=scale)
    autocast_context(precision, lr.device)  # reject fp16 on CPU before any work
    try:
        return _run(model, lr, tile=tile, **options)
    except RuntimeError as exc:
        if not _is_out_of_memory(exc):
            raise
    next_tile = max(lr.shape[-2:]) // 2 if tile is None else tile // 2
    while next_tile >= MIN_TILE:
        if lr.device.type == "cuda":
            torch.cuda.empty_cache()
        warnings.warn(f"out of memory; retrying with --tile {next_tile}", stacklevel=2)
        try:
            return _run(model, lr, tile=next_tile, **options)
        except RuntimeError as exc:
            if not _is_out_of_memory(exc):
                raise
        next_tile //= 2
    raise SrkitError(
        f"out of memory even with {MIN_TILE}px tiles on a {lr.shape[-1]}x{lr.shape[-2]} image on "
        f"{lr.device.type}"
    )


def _model_scale(model: nn.Module) -> int:
    scale = int(getattr(model, "scale", 0) or 0)
    if scale < 1:
        raise SrkitError(f"{type(model).__name__}: model has no integer 'scale' attribute")
    return scale


def _as_model(model: nn.Module | str | os.PathLike[str], device: str | torch.device | None
              ) -> nn.Module:
    if isinstance(model, nn.Module):
        return model.to(device) if device is not None else model
    from srkit.weights.files import load_model

    return load_model(model, device or ("cuda" if torch.cuda.is_available() else "cpu"))


@overload
def upscale(model: nn.Module | str | os.PathLike[str], image: Tensor, *,
            tile: int | None = ..., overlap: int = ..., precision: str = ...,
            self_ensemble: bool = ..., device: str | torch.device | None = ...) -> Tensor: ...


@overload
def upscale(model: nn.Module | str | os.PathLike[str],
            image: Image.Image | str | os.PathLike[str], *,
            tile: int | None = ..., overlap: int = ..., precision: str = ...,
            self_ensemble: bool = ..., device: str | torch.device | None = ...) -> Image.Image: ...


def upscale(model: nn.Module | str | os.PathLike[str],
            image: Tensor | Image.Image | str | os.PathLike[str], *,
            tile: int | None = None, overlap: int = DEFAULT_OVERLAP, precision: str = "fp32",
            self_ensemble: bool = False, device: str | torch.device | None = None
            ) -> Tensor | Image.Image:
    """Super-resolve one image (or a batch) with a generator, for notebooks and scripts.

    Args:
        model: a generator module, or the path of an srkit ``.safetensors`` weights file.
        image: a (3,H,W) or (N,3,H,W) float tensor in [0, 1], a PIL image, or an image path.
        tile: LR tile size in pixels (None: the whole image at once, tiles on CUDA OOM).
        overlap: LR pixels of context around each tile.
        precision: ``fp32``, ``bf16`` or ``fp16`` (autocast; fp16 on CUDA only).
        self_ensemble: average the 8 flips/rotations (x8 slower, usually +0.1 dB).
        device: move the model there first (default: where the model is).

    Returns:
        the SR image clamped to [0, 1]: a tensor of the input's shape times ``scale`` on the
        input's device for tensor input, else an RGB PIL image.
    """
    model = _as_model(model, device).eval()
    if isinstance(image, (str, os.PathLike)):
        from srkit.imageio import load_image

        tensor, kind = load_image(Path(image)), "pil"
    elif isinstance(image, Image.Image):
        tensor, kind = pil_to_tensor(image), "pil"
    elif isinstance(image, Tensor):
        tensor, kind = image, "tensor"
    else:
        raise SrkitError(f"upscale: expected a tensor, PIL image or path, got {type(image).__name__}")
    if tensor.dim() not in (3, 4) or tensor.shape[-3] != 3:
        raise SrkitError(f"upscale: expected (3,H,W) or (N,3,H,W) RGB, got {tuple(tensor.shape)}")
    batch = tensor.unsqueeze(0) if tensor.dim() == 3 else tensor
    lr = batch.to(model_device(model, device or "cpu"), torch.float32)
    sr = run_model(model, lr, tile=tile, overlap=overlap, precision=precision,
                   self_ensemble=self_ensemble).clamp_(0, 1)
    if kind == "pil":
        return tensor_to_pil(sr[0])
    sr = sr.to(tensor.device)
    return sr[0] if tensor.dim() == 3 else sr
