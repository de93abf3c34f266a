"""The images ``srkit bench`` scores: dataset folders, and per scale the images big enough.

Sizes come from image headers, so a dataset that cannot be scored fails before any model runs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from srkit.errors import SrkitError

SSIM_WINDOW = 11


@dataclass(frozen=True)
class Dataset:
    label: str
    folder: Path
    images: list[Path]


def resolve_datasets(names: list[str]) -> list[Dataset]:
    """Bundled names (``set5``) or folders, each with its sorted image list (never empty)."""
    from srkit.data import resolve_dataset
    from srkit.imageio import list_images

    datasets = []
    for name in names:
        folder = resolve_dataset(name)
        is_path = Path(name).expanduser().is_dir()
        label = folder.name if is_path else name.lower()
        datasets.append(Dataset(label, folder, list_images(folder)))
    return datasets


def minimum_hr_size(scale: int) -> int:
    """Smallest HR side the protocol can score: SSIM's window must fit after the border crop."""
    return 2 * scale + SSIM_WINDOW


def usable_images(datasets: list[Dataset], scales: list[int]) -> dict[tuple[str, int], Dataset]:
    """Per (dataset label, scale), the images the protocol can score, read from headers only.

    An unreadable image, or one too small for a scale, is skipped with a warning naming it;
    a dataset left with no image at a scale is a one-line error.
    """
    from srkit.imageio import image_size

    usable: dict[tuple[str, int], Dataset] = {}
    for dataset in datasets:
        sizes: dict[Path, tuple[int, int]] = {}
        unreadable: list[str] = []
        for path in dataset.images:
            try:
                sizes[path] = image_size(path)
            except SrkitError as exc:
                unreadable.append(str(exc))
                skip_warning(str(exc))
        for scale in scales:
            kept, skipped = [], list(unreadable)
            for path, size in sizes.items():
                problem = _size_problem(path, size, scale)
                if problem is None:
                    kept.append(path)
                else:
                    skipped.append(problem)
                    skip_warning(problem)
            if not kept:
                raise SrkitError(f"{dataset.folder}: no image can be scored at x{scale} ({skipped[0]})")
            usable[(dataset.label, scale)] = Dataset(dataset.label, dataset.folder, kept)
    return usable


def _size_problem(path: Path, size: tuple[int, int], scale: int) -> str | None:
    height, width = size
    need = minimum_hr_size(scale)
    if min(height - height % scale, width - width % scale) < need:
        return (f"{path}: {width}x{height} image is too small for x{scale} "
                f"(the protocol needs at least {need}x{need})")
    return None


def skip_warning(problem: str) -> None:
    warnings.warn(f"{problem}; skipped", stacklevel=3)
