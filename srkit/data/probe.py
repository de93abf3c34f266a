"""Image files of a folder, probed from their headers and decoded (or cached) as uint8.

Small folders (the bundled ones) are decoded once and kept in memory as uint8; folders whose
decoded pixels exceed :data:`CACHE_LIMIT_BYTES` are read from disk per item instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from srkit.errors import SrkitError
from srkit.imageio import image_size, list_images, load_image, to_uint8

#: folders whose decoded RGB pixels fit in this many bytes are cached in memory
CACHE_LIMIT_BYTES = 1 << 30


@dataclass(frozen=True)
class ImageFile:
    """An image file with the size its header states."""

    path: Path
    height: int
    width: int


def probe(paths: list[Path]) -> list[ImageFile]:
    """Header sizes of ``paths``; unreadable files are skipped with a warning naming them."""
    found = []
    for path in paths:
        try:
            height, width = image_size(path)
        except SrkitError as exc:
            warnings.warn(f"{exc}; skipped", stacklevel=4)
            continue
        found.append(ImageFile(path, height, width))
    return found


def is_too_small(image: ImageFile, min_size: int, what: str) -> bool:
    """Whether ``image`` is smaller than ``min_size`` on a side (then warned about, naming ``what``)."""
    if image.height >= min_size and image.width >= min_size:
        return False
    warnings.warn(
        f"{image.path}: {image.width}x{image.height} is smaller than the {min_size}x{min_size} "
        f"{what}; skipped",
        stacklevel=4,
    )
    return True


#: how to ask for a crop of at most this side, for messages (e.g. "pass --patch-size 288")
SizeHint = Callable[[int], str]


class CropTooLarge(SrkitError):
    """Every readable image of a folder is smaller than the crop: nothing is left to train on."""

    def __init__(self, folder: str | Path, crop: int, fits_all: int, hint: str) -> None:
        super().__init__(f"{folder}: every image is smaller than the {crop}x{crop} crop (the largest "
                         f"crop they all allow is {fits_all}x{fits_all}){hint}")


def usable_files(folder: str | Path, min_size: int, size_hint: SizeHint | None = None
                 ) -> list[ImageFile]:
    """Readable images of ``folder`` at least ``min_size`` on both sides.

    The images too small are named in one warning (one line, not one per file) with the largest
    crop they all allow, or a :class:`CropTooLarge` error when none is left; ``size_hint`` turns
    that crop side into the option to pass.
    """
    files = probe(list_images(folder))
    usable = [f for f in files if f.height >= min_size and f.width >= min_size]
    small = [f for f in files if f not in usable]
    if not small:
        return usable
    fits_all = min(min(f.height, f.width) for f in files)
    hint = f"; {size_hint(fits_all)}" if size_hint is not None else ""
    if not usable:
        raise CropTooLarge(folder, min_size, fits_all, hint)
    if len(small) == 1:
        is_too_small(small[0], min_size, "crop")
    else:
        example = small[0]
        warnings.warn(
            f"{folder}: {len(small)} of {len(files)} images are smaller than the {min_size}x{min_size} "
            f"crop and are skipped (e.g. {example.path.name}, {example.width}x{example.height}; "
            f"a {fits_all}x{fits_all} crop keeps them all){hint}",
            stacklevel=3,
        )
    return usable


def load_checked(file: ImageFile) -> Tensor:
    """uint8 (3,H,W) pixels of ``file``, which must still have the size its header had."""
    pixels = to_uint8(load_image(file.path))
    if tuple(pixels.shape[1:]) != (file.height, file.width):
        raise SrkitError(
            f"{file.path}: decoded size {pixels.shape[2]}x{pixels.shape[1]} differs from its "
            f"header {file.width}x{file.height}"
        )
    return pixels


class PixelStore:
    """uint8 pixels (3,H,W) of groups of files (one file per item, or an LR/HR pair).

    Decoded once up front when they fit in ``CACHE_LIMIT_BYTES`` (or ``cache=True``), otherwise
    read per access. Files that fail to decode are skipped with a warning: up front when cached;
    when read per access, the next item is served instead (deterministically).
    """

    def __init__(self, groups: Sequence[tuple[ImageFile, ...]], cache: bool | None) -> None:
        #: bytes of all the groups' pixels decoded (what caching them would take)
        self.decoded_bytes = sum(3 * f.height * f.width for group in groups for f in group)
        self.cached = self.decoded_bytes <= CACHE_LIMIT_BYTES if cache is None else cache
        self.groups = groups
        self._pixels: list[tuple[Tensor, ...]] | None = None
        if self.cached:
            kept, pixels = [], []
            for group in groups:
                try:
                    pixels.append(tuple(load_checked(f) for f in group))
                except SrkitError as exc:
                    warnings.warn(f"{exc}; skipped", stacklevel=3)
                    continue
                kept.append(group)
            self.groups, self._pixels = kept, pixels

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        if self._pixels is not None:
            return self._pixels[index]
        for attempt in range(len(self.groups)):
            group = self.groups[(index + attempt) % len(self.groups)]
            try:
                return tuple(load_checked(f) for f in group)
            except SrkitError as exc:
                warnings.warn(f"{exc}; using the next image instead", stacklevel=2)
        raise SrkitError(f"{self.groups[0][0].path.parent}: none of the images can be read")
