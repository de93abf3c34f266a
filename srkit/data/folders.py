"""Datasets over folders of images: random training crops (HR, paired HR/LR, LR-only).

Every dataset returns float32 tensors in [0, 1], shape (3,H,W), on the CPU; the trainer batches
them with a DataLoader and moves them to the device. Crop positions and augmentations draw from
torch's global RNG inside ``__getitem__``, so a seeded sampler plus DataLoader worker seeding make
a run reproducible.

Image files are probed and cached by :mod:`srkit.data.probe`; HR/LR folders pair up by
:mod:`srkit.data.pairing`. Wherever a folder is taken, a store made by ``srkit pack``
(:mod:`srkit.data.store`) may be given instead: the same items are then read from memory-mapped
pixels, through the same crop code, so a seeded run draws bit-identical batches from either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import torch
from torch import Tensor
from torch.utils.data import Dataset

from srkit.data.augment import random_flip_rotate
from srkit.data.pairing import paired_files
from srkit.data.probe import PixelStore, SizeHint, usable_files
from srkit.data.store import PackedPixels, is_store
from srkit.errors import SrkitError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11


def _random_origin(image: Tensor, crop: int) -> tuple[int, int]:
    """Uniform random (top, left) of a ``crop``-sided square inside ``image`` (3,H,W)."""
    top = int(torch.randint(image.shape[1] - crop + 1, (1,)).item())
    left = int(torch.randint(image.shape[2] - crop + 1, (1,)).item())
    return top, left


def _no_usable_image(folder: str | Path, min_size: int) -> SrkitError:
    return SrkitError(f"{folder}: no readable image is at least {min_size}x{min_size} pixels")


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SrkitError(f"{name} must be a positive integer, got {value!r}")


def _to_float(x: Tensor) -> Tensor:
    return x.float().div_(255.0)


def _check_crop_arguments(patch_size: int, scale: int) -> None:
    """Positive crop arguments (that the patch is a multiple of the scale is a training-config rule,
    checked in :mod:`srkit.training.config_io`)."""
    _check_positive("patch size", patch_size)
    _check_positive("scale", scale)


def _random_crop(image: Tensor, size: int, augment: bool) -> Tensor:
    """A random (3, size, size) float crop of a uint8 image, randomly flipped/rotated if ``augment``."""
    top, left = _random_origin(image, size)
    crop = image[:, top : top + size, left : left + size]
    if augment:
        (crop,) = random_flip_rotate(crop)
    return _to_float(crop)


def _image_pixels(folder: str | Path, min_size: int, cache: bool | None,
                  size_hint: SizeHint | None = None) -> PixelStore | PackedPixels:
    """The usable images of a folder or of an image store, at least ``min_size`` on both sides."""
    if is_store(folder):
        return PackedPixels(folder, "images", min_size, "crop")
    return PixelStore([(f,) for f in usable_files(folder, min_size, size_hint)], cache)


def _pair_pixels(hr_folder: str | Path, lr_folder: str | Path | None, scale: int,
                 min_lr_size: int, cache: bool | None) -> PixelStore | PackedPixels:
    """The usable ``(lr, hr)`` pairs of two folders, or of one pair store (``lr_folder`` None)."""
    if is_store(hr_folder):
        if lr_folder is not None:
            raise SrkitError(f"{hr_folder}: a store is given with an LR folder ({lr_folder}); "
                             "pack the pairs into one store with srkit pack --lr-dir instead")
        pixels = PackedPixels(hr_folder, "pairs", min_lr_size, "LR crop")
        if pixels.scale != scale:
            raise SrkitError(f"{hr_folder}: store of x{pixels.scale} pairs, but the run is "
                             f"x{scale}")
        return pixels
    if lr_folder is None:
        raise SrkitError(f"{hr_folder}: HR/LR pairs need an LR folder or a pair store")
    return PixelStore(paired_files(hr_folder, lr_folder, scale, min_lr_size), cache)


class CropOptions(TypedDict, total=False):
    """Keyword options every crop dataset takes.

    Keys:
        augment: random flips and 90° rotations (default ``True``).
        repeat: the dataset's length is the number of usable images times ``repeat``, so one
            epoch visits each image several times with different crops (default 1).
        cache: keep decoded images in memory; ``None`` (default) decides by the folder's size
            (a packed store is always memory mapped instead).
        size_hint: how the user asks for a smaller crop, named when images are too small.
    """

    augment: bool
    repeat: int
    cache: bool | None
    size_hint: SizeHint | None


class _RepeatedCrops(Dataset):
    """Crops of a store of image groups, cycling ``repeat`` times through it per epoch.

    The one place the crop options are read, so the three datasets cannot disagree on a default.
    """

    _store: PixelStore | PackedPixels  # set by each dataset once its files are found

    def __init__(self, patch_size: int, options: CropOptions) -> None:
        """Check the options before any folder is read, so a bad one fails at once."""
        unknown = sorted(set(options) - set(CropOptions.__annotations__))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {unknown}")
        self.patch_size = patch_size
        self.augment = options.get("augment", True)
        self.repeat = options.get("repeat", 1)
        _check_positive("repeat", self.repeat)
        self._cache = options.get("cache")
        self._size_hint = options.get("size_hint")

    def __len__(self) -> int:
        return len(self._store) * self.repeat

    @property
    def uncached_bytes(self) -> int | None:
        """Decoded bytes of a folder too big to cache (each crop decodes its image), else None."""
        store = self._store
        if isinstance(store, PixelStore) and not store.cached:
            return store.decoded_bytes
        return None

    def _group(self, index: int) -> tuple[Tensor, ...]:
        """The pixels of the group item ``index`` crops from."""
        return self._store[index % len(self._store)]


class HRCropDataset(_RepeatedCrops):
    """Random HR crops (3,P,P) from a folder of HR images; the trainer makes the LR on the device.

    Args:
        folder: folder of images (any size at least ``patch_size`` on both sides).
        patch_size: HR crop side P; a multiple of ``scale`` so the degraded LR crop is whole.
        scale: the SR factor the crops are for.
        options: :class:`CropOptions` (``augment``, ``repeat``, ``cache``).
    """

    def __init__(self, folder: str | Path, patch_size: int, scale: int,
                 **options: Unpack[CropOptions]) -> None:
        _check_crop_arguments(patch_size, scale)
        self.folder = Path(folder)
        self.scale = scale
        super().__init__(patch_size, options)
        self._store = _image_pixels(folder, patch_size, self._cache, self._size_hint)
        if not len(self._store):
            raise _no_usable_image(folder, patch_size)

    @property
    def paths(self) -> list[Path]:
        """The usable image files, in the order items cycle through them."""
        return [group[0].path for group in self._store.groups]

    def __getitem__(self, index: int) -> Tensor:
        (image,) = self._group(index)
        return _random_crop(image, self.patch_size, self.augment)


class PairedCropDataset(_RepeatedCrops):
    """Aligned random crops ``(lr (3,P/s,P/s), hr (3,P,P))`` from an HR folder and an LR folder,
    or from one pair store (``srkit pack --lr-dir``) given as ``hr_folder`` with ``lr_folder`` None.

    Files pair by name (``bird.png`` ↔ ``bird.png``) or DIV2K style (``0001.png`` ↔
    ``0001x4.png``). Each LR must be exactly ``HR size // scale`` (the HR cropped to a multiple of
    the scale, as ``srkit degrade`` does); otherwise a one-line error names the LR file. HR files
    without a partner are skipped with a warning. Both crops get the same flip/rotation.
    ``options`` are the :class:`CropOptions`.
    """

    def __init__(self, hr_folder: str | Path, lr_folder: str | Path | None, patch_size: int,
                 scale: int, **options: Unpack[CropOptions]) -> None:
        _check_crop_arguments(patch_size, scale)
        self.scale = scale
        super().__init__(patch_size, options)
        self._store = _pair_pixels(hr_folder, lr_folder, scale, patch_size // scale, self._cache)
        if not len(self._store):
            raise SrkitError(
                f"{hr_folder}: no readable HR/LR pair with LR at least "
                f"{patch_size // scale}x{patch_size // scale} pixels (LR folder {lr_folder})"
            )

    @property
    def pairs(self) -> list[tuple[Path, Path]]:
        """The usable ``(lr_path, hr_path)`` pairs."""
        return [(lr.path, hr.path) for lr, hr in self._store.groups]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        lr_image, hr_image = self._group(index)
        lr_size, s = self.patch_size // self.scale, self.scale
        top, left = _random_origin(lr_image, lr_size)
        lr = lr_image[:, top : top + lr_size, left : left + lr_size]
        hr = hr_image[:, top * s : (top + lr_size) * s, left * s : (left + lr_size) * s]
        if self.augment:
            lr, hr = random_flip_rotate(lr, hr)
        return _to_float(lr), _to_float(hr)


class LRCropDataset(_RepeatedCrops):
    """Random crops (3,p,p) of LR-only images of any size, for unpaired training streams.

    ``options`` are the :class:`CropOptions`.
    """

    def __init__(self, folder: str | Path, lr_patch_size: int,
                 **options: Unpack[CropOptions]) -> None:
        _check_positive("LR patch size", lr_patch_size)
        super().__init__(lr_patch_size, options)
        self._store = _image_pixels(folder, lr_patch_size, self._cache, self._size_hint)
        if not len(self._store):
            raise _no_usable_image(folder, lr_patch_size)

    def __getitem__(self, index: int) -> Tensor:
        (image,) = self._group(index)
        return _random_crop(image, self.patch_size, self.augment)
