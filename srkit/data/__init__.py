"""Image folders as datasets: training crops and the bundled sets."""

from srkit.data.bundled import BUNDLED_DATASETS, bundled_path, resolve_dataset
from srkit.data.folders import HRCropDataset, LRCropDataset, PairedCropDataset

__all__ = [
    "BUNDLED_DATASETS",
    "HRCropDataset",
    "LRCropDataset",
    "PairedCropDataset",
    "bundled_path",
    "resolve_dataset",
]
