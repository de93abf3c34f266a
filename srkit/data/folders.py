"""Datasets over folders of images: random training crops (HR, paired HR/LR, LR-only).

Every dataset returns float32 tensors in [0, 1], shape (3,H,W), on the CPU; the trainer batches
them with a DataLoader and moves them to the device. Crop positions and augmentations draw from
torch's global RNG inside ``__getitem__``, so a seeded sampler plus DataLoader worker seeding make
a run reproducible.

Small folders (the bundled ones) are decoded once and kept in memory as uint8; folders whose
decoded pixels exceed :data:`CACHE_LIMIT_BYTES` are read from disk per item instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from srkit.data.augment import random_flip_rotate
from srkit.errors import SrkitError
from srkit.imageio import image_size, list_images, load_image, to_uint8

#: folders whose decoded RGB pixels fit in this many bytes are cached in memory
CACHE_LIMIT_BYTES = 1 << 30


@dataclass(frozen=True)
class _ImageFile:
    path: Path
    height: int
    width: int


def _probe(paths: list[Path]) -> list[_ImageFile]:
    """Header sizes of ``paths``; unreadable files are skipped with a warning naming them."""
    found = []
    for path in paths:
        try:
            height, width = image_size(path)
        except SrkitError as exc:
            warnings.warn(f"{exc}; skipped", stacklevel=4)
            continue
        found.append(_ImageFile(path, height, width))
    return found


def _is_too_small(image: _ImageFile, min_size: int, what: str) -> bool:
    if image.height >= min_size and image.width >= min_size:
        return False
    warnings.warn(
        f"{image.path}: {image.width}x{image.height} is smaller than the {min_size}x{min_size} "
        f"{what}; skipped",
        stacklevel=4,
    )
    return True


def _random_origin(image: Tensor, crop: int) -> tuple[int, int]:
    """Uniform random (top, left) of a ``crop``-sided square inside ``image`` (3,H,W)."""
    top = int(torch.randint(image.shape[1] - crop + 1, (1,)).item())
    left = int(torch.randint(image.shape[2] - crop + 1, (1,)).item())
    return top, left


def _usable_files(folder: str | Path, min_size: int) -> list[_ImageFile]:
    """Readable images of ``folder`` at least ``min_size`` on both sides (others warned about)."""
    return [f for f in _probe(list_images(folder)) if not _is_too_small(f, min_size, "crop")]


def _no_usable_image(folder: str | Path, min_size: int) -> SrkitError:
    return SrkitError(f"{folder}: no readable image is at least {min_size}x{min_size} pixels")


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SrkitError(f"{name} must be a positive integer, got {value!r}")


def _load_checked(file: _ImageFile) -> Tensor:
    """uint8 (3,H,W) pixels of ``file``, which must still have the size its header had."""
    pixels = to_uint8(load_image(file.path))
    if tuple(pixels.shape[1:]) != (file.height, file.width):
        raise SrkitError(
            f"{file.path}: decoded size {pixels.shape[2]}x{pixels.shape[1]} differs from its "
            f"header {file.width}x{file.height}"
        )
    return pixels


class _PixelStore:
    """uint8 pixels (3,H,W) of groups of files (one file per item, or an LR/HR pair).

    Decoded once up front when they fit in ``CACHE_LIMIT_BYTES`` (or ``cache=True``), otherwise
    read per access. Files that fail to decode are skipped with a warning: up front when cached;
    when read per access, the next item is served instead (deterministically).
    """

    def __init__(self, groups: Sequence[tuple[_ImageFile, ...]], cache: bool | None) -> None:
        decoded_bytes = sum(3 * f.height * f.width for group in groups for f in group)
        self.cached = decoded_bytes <= CACHE_LIMIT_BYTES if cache is None else cache
        self.groups = groups
        self._pixels: list[tuple[Tensor, ...]] | None = None
        if self.cached:
            kept, pixels = [], []
            for group in groups:
                try:
                    pixels.append(tuple(_load_checked(f) for f in group))
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
                return tuple(_load_checked(f) for f in group)
            except SrkitError as exc:
                warnings.warn(f"{exc}; using the next image instead", stacklevel=2)
        raise SrkitError(f"{self.groups[0][0].path.parent}: none of the images can be read")


def _to_float(x: Tensor) -> Tensor:
    return x.float().div_(255.0)


def _check_crop_arguments(patch_size: int, scale: int, repeat: int) -> None:
    """Positive crop arguments (that the patch is a multiple of the scale is a training-config rule,
    checked in :mod:`srkit.training.checks`)."""
    _check_positive("patch size", patch_size)
    _check_positive("scale", scale)
    _check_positive("repeat", repeat)


def _random_crop(image: Tensor, size: int, augment: bool) -> Tensor:
    """A random (3, size, size) float crop of a uint8 image, randomly flipped/rotated if ``augment``."""
    top, left = _random_origin(image, size)
    crop = image[:, top : top + size, left : left + size]
    if augment:
        (crop,) = random_flip_rotate(crop)
    return _to_float(crop)


class HRCropDataset(Dataset):
    """Random HR crops (3,P,P) from a folder of HR images; the trainer makes the LR on the device.

    Args:
        folder: folder of images (any size at least ``patch_size`` on both sides).
        patch_size: HR crop side P; a multiple of ``scale`` so the degraded LR crop is whole.
        scale: the SR factor the crops are for.
        augment: random flips and 90° rotations.
        repeat: the dataset's length is the number of usable images times ``repeat``, so one
            epoch visits each image several times with different crops.
        cache: keep decoded images in memory; ``None`` decides by the folder's size.
    """

    def __init__(
        self,
        folder: str | Path,
        patch_size: int,
        scale: int,
        *,
        augment: bool = True,
        repeat: int = 1,
        cache: bool | None = None,
    ) -> None:
        _check_crop_arguments(patch_size, scale, repeat)
        self.folder = Path(folder)
        self.patch_size, self.scale = patch_size, scale
        self.augment, self.repeat = augment, repeat
        self._store = _PixelStore([(f,) for f in _usable_files(folder, patch_size)], cache)
        if not len(self._store):
            raise _no_usable_image(folder, patch_size)

    @property
    def paths(self) -> list[Path]:
        """The usable image files, in the order items cycle through them."""
        return [group[0].path for group in self._store.groups]

    def __len__(self) -> int:
        return len(self._store) * self.repeat

    def __getitem__(self, index: int) -> Tensor:
        (image,) = self._store[index % len(self._store)]
        return _random_crop(image, self.patch_size, self.augment)


def _lr_partner(hr: Path, lr_by_stem: dict[str, Path], scale: int) -> Path | None:
    """The LR file for ``hr``: the same name, or the DIV2K name ``<stem>x<scale>``."""
    return lr_by_stem.get(hr.stem) or lr_by_stem.get(f"{hr.stem}x{scale}")


def _check_pair_sizes(hr: _ImageFile, lr: _ImageFile, scale: int) -> None:
    expected_h, expected_w = hr.height // scale, hr.width // scale
    if (lr.height, lr.width) != (expected_h, expected_w):
        raise SrkitError(
            f"{lr.path}: LR is {lr.width}x{lr.height} but HR {hr.path.name} "
            f"({hr.width}x{hr.height}) at scale {scale} needs {expected_w}x{expected_h}"
        )


class PairedCropDataset(Dataset):
    """Aligned random crops ``(lr (3,P/s,P/s), hr (3,P,P))`` from an HR folder and an LR folder.

    Files pair by name (``bird.png`` ↔ ``bird.png``) or DIV2K style (``0001.png`` ↔
    ``0001x4.png``). Each LR must be exactly ``HR size // scale`` (the HR cropped to a multiple of
    the scale, as ``srkit degrade`` does); otherwise a one-line error names the LR file. HR files
    without a partner are skipped with a warning. Both crops get the same flip/rotation.
    """

    def __init__(
        self,
        hr_folder: str | Path,
        lr_folder: str | Path,
        patch_size: int,
        scale: int,
        *,
        augment: bool = True,
        repeat: int = 1,
        cache: bool | None = None,
    ) -> None:
        _check_crop_arguments(patch_size, scale, repeat)
        self.patch_size, self.scale, self.augment, self.repeat = patch_size, scale, augment, repeat
        lr_by_stem: dict[str, Path] = {}
        for path in list_images(lr_folder):
            lr_by_stem.setdefault(path.stem, path)
        pairs = []
        for hr in _probe(list_images(hr_folder)):
            lr_path = _lr_partner(hr.path, lr_by_stem, scale)
            if lr_path is None:
                warnings.warn(
                    f"{hr.path}: no LR image named {hr.path.stem}.* or {hr.path.stem}x{scale}.* "
                    f"in {lr_folder}; skipped",
                    stacklevel=2,
                )
                continue
            probed_lr = _probe([lr_path])
            if not probed_lr:
                continue
            lr = probed_lr[0]
            _check_pair_sizes(hr, lr, scale)
            if not _is_too_small(lr, patch_size // scale, "LR crop"):
                pairs.append((lr, hr))
        self._store = _PixelStore(pairs, cache)
        if not len(self._store):
            raise SrkitError(
                f"{hr_folder}: no readable HR/LR pair with LR at least "
                f"{patch_size // scale}x{patch_size // scale} pixels (LR folder {lr_folder})"
            )

    @property
    def pairs(self) -> list[tuple[Path, Path]]:
        """The usable ``(lr_path, hr_path)`` pairs."""
        return [(lr.path, hr.path) for lr, hr in self._store.groups]

    def __len__(self) -> int:
        return len(self._store) * self.repeat

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        lr_image, hr_image = self._store[index % len(self._store)]
        lr_size, s = self.patch_size // self.scale, self.scale
        top, left = _random_origin(lr_image, lr_size)
        lr = lr_image[:, top : top + lr_size, left : left + lr_size]
        hr = hr_image[:, top * s : (top + lr_size) * s, left * s : (left + lr_size) * s]
        if self.augment:
            lr, hr = random_flip_rotate(lr, hr)
        return _to_float(lr), _to_float(hr)


class LRCropDataset(Dataset):
    """Random crops (3,p,p) of LR-only images of any size, for unpaired training streams."""

    def __init__(
        self,
        folder: str | Path,
        lr_patch_size: int,
        *,
        augment: bool = True,
        repeat: int = 1,
        cache: bool | None = None,
    ) -> None:
        _check_positive("LR patch size", lr_patch_size)
        _check_positive("repeat", repeat)
        self.patch_size, self.augment, self.repeat = lr_patch_size, augment, repeat
        self._store = _PixelStore([(f,) for f in _usable_files(folder, lr_patch_size)], cache)
        if not len(self._store):
            raise _no_usable_image(folder, lr_patch_size)

    def __len__(self) -> int:
        return len(self._store) * self.repeat

    def __getitem__(self, index: int) -> Tensor:
        (image,) = self._store[index % len(self._store)]
        return _random_crop(image, self.patch_size, self.augment)
