"""HR/LR pairing of two folders: by equal names, or DIV2K's ``<stem>x<scale>`` LR names."""

from __future__ import annotations

import warnings
from pathlib import Path

from srkit.data.probe import ImageFile, is_too_small, probe
from srkit.errors import SrkitError
from srkit.imageio import list_images


def lr_partner(hr: Path, lr_by_stem: dict[str, Path], scale: int) -> Path | None:
    """The LR file for ``hr``: the same name, or the DIV2K name ``<stem>x<scale>``."""
    return lr_by_stem.get(hr.stem) or lr_by_stem.get(f"{hr.stem}x{scale}")


def check_pair_sizes(hr: ImageFile, lr: ImageFile, scale: int) -> None:
    expected_h, expected_w = hr.height // scale, hr.width // scale
    if (lr.height, lr.width) != (expected_h, expected_w):
        raise SrkitError(
            f"{lr.path}: LR is {lr.width}x{lr.height} but HR {hr.path.name} "
            f"({hr.width}x{hr.height}) at scale {scale} needs {expected_w}x{expected_h}"
        )


def paired_files(hr_folder: str | Path, lr_folder: str | Path, scale: int, min_lr_size: int
                 ) -> list[tuple[ImageFile, ImageFile]]:
    """``(lr, hr)`` files of two folders that pair up and whose LR is at least ``min_lr_size``.

    An HR file without a partner, or with an unreadable or too small one, is skipped with a
    warning; an LR of the wrong size for its HR is a one-line error naming it.
    """
    lr_by_stem: dict[str, Path] = {}
    for path in list_images(lr_folder):
        lr_by_stem.setdefault(path.stem, path)
    pairs = []
    for hr in probe(list_images(hr_folder)):
        lr_path = lr_partner(hr.path, lr_by_stem, scale)
        if lr_path is None:
            warnings.warn(
                f"{hr.path}: no LR image named {hr.path.stem}.* or {hr.path.stem}x{scale}.* "
                f"in {lr_folder}; skipped",
                stacklevel=3,
            )
            continue
        probed_lr = probe([lr_path])
        if not probed_lr:
            continue
        lr = probed_lr[0]
        check_pair_sizes(hr, lr, scale)
        if not is_too_small(lr, min_lr_size, "LR crop"):
            pairs.append((lr, hr))
    return pairs
