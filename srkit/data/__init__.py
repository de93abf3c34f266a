"""Image folders as datasets: training crops, evaluation images and the bundled sets."""

from srkit.data.bundled import BUNDLED_DATASETS, bundled_path, resolve_dataset
from srkit.data.folders import HRCropDataset, ImageFolderDataset, LRCropDataset, PairedCropDataset

__all__ = [
    "BUNDLED_DATASETS",
    "HRCropDataset",
    "ImageFolderDataset",
    "LRCropDataset",
    "PairedCropDataset",
    "bundled_path",
    "resolve_dataset",
]
