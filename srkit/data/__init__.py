"""Image folders as datasets: training crops and the bundled sets."""

from srkit.data.bundled import BUNDLED_DATASETS, bundled_path, resolve_dataset
from srkit.data.folders import CropOptions, HRCropDataset, LRCropDataset, PairedCropDataset

__all__ = [
    "BUNDLED_DATASETS",
    "CropOptions",
    "HRCropDataset",
    "LRCropDataset",
    "PairedCropDataset",
    "bundled_path",
    "resolve_dataset",
]
