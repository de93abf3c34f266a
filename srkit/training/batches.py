"""Training batches on the device: crops come from CPU workers, LR is made on the device.

Making LR from HR crops batched on the training device (instead of per crop in the workers)
keeps the workers cheap so a GPU is not starved by the MATLAB-bicubic resize.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from srkit.data import HRCropDataset, PairedCropDataset, resolve_dataset
from srkit.degradations.spec import build_degradation
from srkit.errors import SrkitError
from srkit.interfaces import Batch, Recipe
from srkit.training.config import TrainConfig
from srkit.training.distributed import ProcessInfo
from srkit.training.rng import derive_seed
from srkit.training.sampling import SeededItems, StreamBatchSampler

#: default training data: a small bundled set of real photos
DEMO_DATA = "photos"
_DEGRADATION_STREAM = 7


def _to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v, device) for v in value)
    return value


class TrainBatches:
    """``next_batch(step)`` returns the :class:`Batch` of training step ``step`` (0-based)."""

    def __init__(self, config: TrainConfig, recipe: Recipe, device: torch.device,
                 info: ProcessInfo, start_step: int) -> None:
        self.config, self.device, self.info = config, device, info
        self.paired = config.data_lr is not None
        self.degradation = None if self.paired else build_degradation(config.degradation)
        self._main = self._stream(self._main_dataset(), 0, start_step)
        self._extras = {name: self._stream(dataset, zlib.crc32(name.encode()), start_step)
                        for name, dataset in recipe.extra_datasets().items()}

    def _main_dataset(self) -> Dataset:
        config = self.config
        if self.paired:
            if config.data is None:
                raise SrkitError("--data-lr needs --data (the HR folder it is paired with)")
            return PairedCropDataset(resolve_dataset(config.data), resolve_dataset(config.data_lr),
                                     config.patch_size, config.scale)
        folder = resolve_dataset(config.data if config.data is not None else DEMO_DATA)
        return HRCropDataset(folder, config.patch_size, config.scale)

    def _stream(self, dataset: Dataset, stream: int, start_step: int) -> Iterator[Any]:
        config, info = self.config, self.info
        sampler = StreamBatchSampler(len(dataset), config.batch_size, seed=config.seed,
                                     stream=stream, rank=info.rank, world_size=info.world_size,
                                     start_step=start_step)
        loader = DataLoader(
            SeededItems(dataset), batch_sampler=sampler, num_workers=config.workers,
            pin_memory=self.device.type == "cuda", persistent_workers=config.workers > 0,
            # the loader's own generator: creating it must not draw from the training RNG
            generator=torch.Generator().manual_seed(derive_seed(config.seed, stream, 2)),
        )
        return iter(loader)

    def next_batch(self, step: int) -> Batch:
        first = _to_device(next(self._main), self.device)
        if self.paired:
            lr, hr = first
        else:
            hr = first
            lr = self._degrade(hr, step)
        extra = {name: _to_device(next(it), self.device) for name, it in self._extras.items()}
        if self.config.channels_last:
            lr, hr = (x.contiguous(memory_format=torch.channels_last) for x in (lr, hr))
        return Batch(lr=lr, hr=hr, extra=extra)

    def _degrade(self, hr: Tensor, step: int) -> Tensor:
        """LR of the HR batch, drawn from a generator seeded by (run seed, step) on the device."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(derive_seed(self.config.seed, _DEGRADATION_STREAM, step,
                                          self.info.rank))
        with torch.no_grad():
            lr = self.degradation(hr, self.config.scale, generator=generator)
        return lr.clamp_(0.0, 1.0)
