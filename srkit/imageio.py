"""Reading and writing images as srkit tensors: (3,H,W) float32 RGB in [0, 1].

Pillow does the decoding; this module only settles the awkward cases once (16-bit, alpha,
palettes, EXIF orientation) so every dataset, benchmark and command sees the same pixels.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from srkit.errors import SrkitError, first_informative_line

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# Modes whose samples are wider than 8 bits; Pillow keeps them as 32-bit integer arrays.
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_ALPHA_MODES = {"RGBA", "LA", "La", "RGBa", "PA"}
#: 16-bit colour PNG and uncompressed TIFF: Pillow decodes them to 8-bit RGB(A) keeping each
#: sample's high byte; decoding again with the other byte order's raw mode yields the low bytes.
_LOW_BYTE_RAWMODES = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L",
                      "RGB;16L": "RGB;16B", "RGBA;16L": "RGBA;16B"}
#: Pillow codecs whose tile arguments start with the raw mode: PNG's and uncompressed TIFF's
_RAWMODE_CODECS = {"zip", "raw"}
_EXIF_ORIENTATION = 0x0112
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}  # EXIF values that rotate by 90 or 270 degrees


_READ_ERRORS = (
    OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError
)


def _unreadable(path: Path, exc: Exception) -> SrkitError:
    reason = first_informative_line(exc)
    return SrkitError(f"{path}: cannot read image ({reason})")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """(H,W,3) float32 array in [0, 1] from any Pillow mode."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Grayscale 16-bit (PNG/TIFF): Pillow cannot convert it to RGB without truncating to 8 bits.
        gray = np.asarray(image, dtype=np.float32) / 65535.0
        return np.repeat(np.clip(gray, 0.0, 1.0)[..., None], 3, axis=2)
    if image.mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        if not np.isfinite(gray).all():
            raise ValueError("image holds NaN or infinite pixel values")
        return np.repeat(np.clip(gray, 0.0, 1.0)[..., None], 3, axis=2)
    if image.mode in {"RGB;16", "RGB;16B", "RGB;16L"}:  # rare raw 16-bit RGB
        return np.asarray(image, dtype=np.float32) / 65535.0
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _rawmode(tile: tuple) -> str | None:
    """The raw mode of a Pillow tile ``(codec, extents, offset, args)`` of a known codec."""
    codec, args = tile[0], tile[3]
    rawmode = args[0] if isinstance(args, tuple) and args else args
    return rawmode if codec in _RAWMODE_CODECS and isinstance(rawmode, str) else None


def _sixteen_bit_colour_rawmode(image: Image.Image) -> str | None:
    """The raw mode of a 16-bit colour image that Pillow would cut to 8 bits, else None."""
    rawmodes = {_rawmode(tile) for tile in getattr(image, "tile", None) or []}
    if len(rawmodes) != 1:
        return None
    rawmode = rawmodes.pop()
    return rawmode if rawmode in _LOW_BYTE_RAWMODES else None


def _with_rawmode(tile: Any, rawmode: str) -> Any:
    """A decoder tile of Pillow's (a named tuple) with its raw mode replaced."""
    args = (rawmode, *tile[3][1:]) if isinstance(tile[3], tuple) else rawmode
    return type(tile)(*tile[:3], args, *tile[4:])


def _decoded_bytes(path: Path, rawmode: str) -> Image.Image:
    """The image decoded with ``rawmode`` (each 16-bit sample reduced to one of its bytes)."""
    image = Image.open(path)
    image.tile = [_with_rawmode(tile, rawmode) for tile in image.tile]
    image.load()
    return ImageOps.exif_transpose(image) or image


def _sixteen_bit_colour_array(path: Path, rawmode: str) -> np.ndarray:
    """(H,W,3) float32 in [0, 1] of a 16-bit colour image, at full 16-bit precision."""
    high = np.asarray(_decoded_bytes(path, rawmode), dtype=np.uint16)
    low = np.asarray(_decoded_bytes(path, _LOW_BYTE_RAWMODES[rawmode]), dtype=np.uint16)
    return ((high << 8) | low)[..., :3].astype(np.float32) / 65535.0


def load_image(path: str | Path) -> Tensor:
    """Load any readable image as RGB: (3,H,W) float32 in [0, 1].

    8-bit images are divided by 255, 16-bit ones (grey; 48/64-bit colour PNG or uncompressed
    TIFF) by 65535; grayscale is repeated to three channels; alpha is dropped (with a warning
    naming the file); EXIF orientation is applied. An unreadable, truncated or non-image
    file, or a float image with NaN or infinite pixels, raises a one-line :class:`SrkitError`.
    """
    path = Path(path)
    size = (0, 0)
    try:
        with Image.open(path) as image:
            size = image.size
            wide = _sixteen_bit_colour_rawmode(image)
            if wide is not None:
                if _has_alpha(image):
                    warnings.warn(f"{path}: alpha channel dropped", stacklevel=2)
                array = _sixteen_bit_colour_array(path, wide)
                return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            if _has_alpha(upright):
                warnings.warn(f"{path}: alpha channel dropped", stacklevel=2)
            tensor = pil_to_tensor(upright)
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    except (MemoryError, RuntimeError) as exc:
        from srkit.memory import allocation_error, is_allocation_failure

        if not is_allocation_failure(exc):
            raise
        raise allocation_error(path, *size, "load") from None
    return tensor


def pil_to_tensor(image: Image.Image) -> Tensor:
    """A Pillow image of any mode as (3,H,W) float32 RGB in [0, 1] (alpha dropped silently)."""
    return torch.from_numpy(np.ascontiguousarray(_to_rgb_array(image))).permute(2, 0, 1).contiguous()


def tensor_to_pil(image: Tensor) -> Image.Image:
    """A (3,H,W) tensor in [0, 1] (clamped, rounded) as an 8-bit RGB Pillow image."""
    return Image.fromarray(to_uint8(image.cpu()).permute(1, 2, 0).numpy())


def _header_orientation(image: Image.Image) -> int:
    """The EXIF orientation, without decoding pixels (Pillow's PNG ``getexif`` decodes all)."""
    if image.format == "PNG":
        raw = image.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
        return exif.get(_EXIF_ORIENTATION, 1)
    return image.getexif().get(_EXIF_ORIENTATION, 1)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of the image as :func:`load_image` returns it, read from the header only.

    Cheap enough to check every file of a large folder; EXIF rotations by 90° swap the two.
    A truncated file may pass here and fail later in :func:`load_image`.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = _header_orientation(image)
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    return (width, height) if orientation in _TRANSPOSING_ORIENTATIONS else (height, width)


def to_uint8(image: Tensor) -> Tensor:
    """(3,H,W) float in [0, 1] (clamped) -> (3,H,W) uint8, rounded to nearest."""
    return image.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)


def save_image(image: Tensor, path: str | Path, *, jpeg_quality: int = 95) -> None:
    """Save a (3,H,W) or (1,3,H,W) tensor in [0, 1] as an 8-bit image; format from the suffix.

    Values are clamped and rounded; missing parent folders are created.
    """
    path = Path(path)
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        shape = tuple(image.shape)
        raise SrkitError(f"{path}: cannot save a tensor of shape {shape}; expected (3,H,W)")
    save_pil_image(tensor_to_pil(image), path, jpeg_quality=jpeg_quality)


def save_pil_image(image: Image.Image, path: str | Path, *, jpeg_quality: int = 95) -> None:
    """Save a Pillow image atomically (a kill mid-write leaves the previous file); format from the
    suffix, missing parent folders created."""
    from srkit.atomic_files import atomic_output

    path = Path(path)
    options: dict[str, Any] = {"quality": jpeg_quality} if path.suffix.lower() in {".jpg", ".jpeg"} else {}
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise SrkitError(f"{path}: cannot write image (unknown file extension {path.suffix!r})")
    try:
        with atomic_output(path) as tmp:
            image.save(tmp, format=image_format, **options)
    except (OSError, ValueError, KeyError) as exc:
        raise SrkitError(f"{path}: cannot write image ({exc})") from None


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name.

    Raises a one-line :class:`SrkitError` if the folder does not exist or holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SrkitError(f"{folder}: no such folder")
    images = sorted(p for p in folder.iterdir() if is_image_file(p))
    if not images:
        extensions = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
        raise SrkitError(f"{folder}: no images found (looked for {extensions})")
    return images
