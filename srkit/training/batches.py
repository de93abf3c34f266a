"""Training batches on the device: crops come from CPU workers, LR is made on the device.

Making LR from HR crops batched on the training device (instead of per crop in the workers)
keeps the workers cheap so a GPU is not starved by the MATLAB-bicubic resize. The LR is made
by :func:`srkit.degradations.make_lr`, the function ``srkit degrade`` and ``srkit bench`` use,
so it is 8-bit like an LR PNG file unless ``--no-quantize-lr`` is given. On CUDA the batch of the
next step is copied (from pinned memory, on a side stream) and degraded while the current step
runs: one batch of lookahead, so the step never waits for its data.

The time spent blocked on the data loaders is summed (:meth:`TrainBatches.take_wait_seconds`),
so the trainer can show which share of the step time waits for crops.

A checkpointable, shardable, infinite stream of training samples.

The stream is the concatenation of per-epoch permutations drawn from ``(seed, epoch)``. Step ``k``
of rank ``r`` takes positions ``[(k * world + r) * B, ... + B)``, so the batches of any step are
known from the step number alone: resuming at step ``k`` needs no other sampler state, and the
ranks of a multi-process run see disjoint samples. Each sample also gets its own seed (from the
run seed and its stream position), under which the dataset draws its random crop, so a sample is
the same whichever worker process loads it and whenever.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator, Sized
from typing import Any, cast

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, get_worker_info

from srkit.config import TrainConfig
from srkit.data import HRCropDataset, PairedCropDataset, resolve_dataset
from srkit.data.store import is_store, read_manifest
from srkit.degradations.lr import make_lr
from srkit.degradations.spec import build_degradation
from srkit.interfaces import Batch, Recipe
from srkit.memory import training_memory_plan
from srkit.training.distributed import ProcessInfo
from srkit.training.guards import leave_stops_to_the_main_process, stop_signals_blocked
from srkit.training.rng import derive_seed, isolated_rng, seed_cpu_rngs

#: default training data: a small bundled set of real photos
DEMO_DATA = "photos"
_DEGRADATION_STREAM = 7


def patch_size_hint(hr_side: int, scale: int) -> str:
    """The ``--patch-size`` to pass when the images allow HR crops of at most ``hr_side``."""
    largest = hr_side // scale * scale
    if largest == 0:
        return f"the images are too small for x{scale}"
    return f"pass --patch-size {largest} or smaller (a multiple of --scale {scale})"


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
        self.paired = config.data_lr is not None or _is_pair_store(config.data)
        self._waited = 0.0
        self.recipe = recipe
        # A paired run reads its LR from files; a recipe's own targets still come from the HR.
        self.prepares = type(recipe).prepare_batch is not Recipe.prepare_batch
        self.degradation = (build_degradation(config.degradation)
                            if not self.paired or self.prepares else None)
        main, extras = self._main_dataset(), recipe.extra_datasets()
        training_memory_plan(config.batch_size, config.patch_size, config.workers, 1 + len(extras))
        #: images per stream ("main", then each extra stream's name), for the start summary
        self.sizes = {name: len(cast(Sized, d)) for name, d in {"main": main, **extras}.items()}
        #: lines for the start summary about how the data is read
        self.notes = _slow_folder_notes(config.data, main)
        self._main = self._stream(main, 0, start_step)
        self._extras = {name: self._stream(dataset, zlib.crc32(name.encode()), start_step)
                        for name, dataset in extras.items()}
        self._stream_for_copies = torch.cuda.Stream(device) if device.type == "cuda" else None
        self._ahead: tuple[int, Batch] | None = None

    def _main_dataset(self) -> Dataset:
        config = self.config
        if self.paired:
            assert config.data is not None  # checked with the config
            lr = resolve_dataset(config.data_lr) if config.data_lr is not None else None
            return PairedCropDataset(resolve_dataset(config.data), lr, config.patch_size,
                                     config.scale)
        folder = resolve_dataset(config.data if config.data is not None else DEMO_DATA)
        return HRCropDataset(folder, config.patch_size, config.scale,
                             size_hint=lambda side: patch_size_hint(side, config.scale))

    def close(self) -> None:
        """Stop the data loader worker processes now, not whenever the iterators are collected.

        Forked workers hold copies of the parent's open files (the run folder's lock among
        them), so a run must not leave them behind when it ends, however it ends.
        """
        for iterator in (self._main, *self._extras.values()):
            shutdown = getattr(iterator, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()
            for worker in getattr(iterator, "_workers", ()):
                if worker.is_alive():  # workers ignore SIGTERM, so the loader cannot end them
                    worker.kill()
                    worker.join(timeout=5)

    def _stream(self, dataset: Dataset, stream: int, start_step: int) -> Iterator[Any]:
        config, info = self.config, self.info
        sampler = StreamBatchSampler(len(dataset), config.batch_size, seed=config.seed,  # type: ignore[arg-type]
                                     stream=stream, rank=info.rank, world_size=info.world_size,
                                     start_step=start_step)
        loader = DataLoader(
            SeededItems(dataset), batch_sampler=sampler, num_workers=config.workers,
            pin_memory=self.device.type == "cuda", persistent_workers=config.workers > 0,
            worker_init_fn=leave_stops_to_the_main_process,
            # the loader's own generator: creating it must not draw from the training RNG
            generator=torch.Generator().manual_seed(derive_seed(config.seed, stream, 2)),
        )
        with stop_signals_blocked():  # persistent workers are forked here
            return iter(loader)

    def next_batch(self, step: int) -> Batch:
        """The batch of ``step``; on CUDA, also starts preparing the batch of ``step + 1``."""
        if self._stream_for_copies is None:
            return self._make_batch(step)
        if self._ahead is None or self._ahead[0] != step:
            self._ahead = (step, self._prepare_aside(step))
        batch = self._ahead[1]
        current = torch.cuda.current_stream(self.device)
        current.wait_stream(self._stream_for_copies)
        for tensor in (batch.lr, batch.hr, *batch.extra.values()):
            if isinstance(tensor, Tensor):
                tensor.record_stream(current)  # memory made on the side stream, used here
        self._ahead = (step + 1, self._prepare_aside(step + 1))
        return batch

    def _prepare_aside(self, step: int) -> Batch:
        with torch.cuda.stream(self._stream_for_copies):
            return self._make_batch(step)

    def take_wait_seconds(self) -> float:
        """Seconds spent waiting for the data loaders since the last call."""
        waited, self._waited = self._waited, 0.0
        return waited

    def _next_items(self, iterator: Iterator[Any]) -> Any:
        started = time.perf_counter()
        items = next(iterator)
        self._waited += time.perf_counter() - started
        return items

    def _make_batch(self, step: int) -> Batch:
        first = _to_device(self._next_items(self._main), self.device)
        if self.paired:
            lr, hr = first
        else:
            hr = first
            assert self.degradation is not None  # built for every run that makes LR from HR
            lr = make_lr(hr, self.config.scale, self.degradation, quantize=self.config.quantize_lr,
                         generator=self._generator(step))
        extra = {name: _to_device(self._next_items(it), self.device)
                 for name, it in self._extras.items()}
        batch = Batch(lr=lr, hr=hr, extra=extra)
        if self.prepares:
            assert self.degradation is not None
            with torch.no_grad():
                self.recipe.prepare_batch(batch, self.degradation, self._generator(step))
        if self.config.channels_last:
            batch.lr, batch.hr = (x.contiguous(memory_format=torch.channels_last)
                                  for x in (batch.lr, batch.hr))
        return batch

    def _generator(self, step: int) -> torch.Generator:
        """The generator of ``step``'s degradation draw, seeded by (run seed, step, rank) on the
        device; a fresh one each call, so a recipe's targets repeat the LR's draw."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(derive_seed(self.config.seed, _DEGRADATION_STREAM, step,
                                          self.info.rank))
        return generator


class StreamBatchSampler:
    """Yields batches of ``(index, sample_seed)`` forever, starting at ``start_step``."""

    def __init__(self, num_items: int, batch_size: int, *, seed: int, stream: int = 0,
                 rank: int = 0, world_size: int = 1, start_step: int = 0) -> None:
        self.num_items, self.batch_size = num_items, batch_size
        self.seed, self.stream = seed, stream
        self.rank, self.world_size = rank, world_size
        self.start_step = start_step
        self._epoch, self._permutation = -1, torch.empty(0, dtype=torch.long)

    def _first_position(self, step: int) -> int:
        return (step * self.world_size + self.rank) * self.batch_size

    def _index(self, position: int) -> int:
        epoch, offset = divmod(position, self.num_items)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, self.stream, epoch))
            self._epoch = epoch
            self._permutation = torch.randperm(self.num_items, generator=generator)
        return int(self._permutation[offset])

    def batch(self, step: int) -> list[tuple[int, int]]:
        first = self._first_position(step)
        return [(self._index(p), derive_seed(self.seed, self.stream, p, 1))
                for p in range(first, first + self.batch_size)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1


class SeededItems(Dataset):
    """Wraps a dataset whose items draw from the global RNGs: item ``(index, seed)`` is drawn
    under ``seed``, leaving the caller's RNG streams untouched (in the main process; a loader
    worker's streams are its own)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        if get_worker_info() is not None:
            # a loader worker's RNG streams feed nothing else: reseeding is enough, and saving
            # and restoring them would cost more than the crop
            seed_cpu_rngs(seed)
            return self.dataset[index]
        with isolated_rng(seed):
            return self.dataset[index]


def _is_pair_store(data: str | None) -> bool:
    """Whether ``--data`` is a store of HR/LR pairs (which makes the run a paired one)."""
    if data is None or not is_store(data):
        return False
    return read_manifest(data)["kind"] == "pairs"


def _slow_folder_notes(data: str | None, dataset: Dataset) -> list[str]:
    """A pointer to ``srkit pack`` when every crop decodes a whole image (a folder too big to cache)."""
    decoded = getattr(dataset, "uncached_bytes", None)
    if data is None or not decoded:
        return []
    return [f"{data} decodes to {decoded / 1e9:.1f} GB, more than the in-memory cache holds, so "
            f"every crop decodes a whole image; srkit pack {data} STORE once and --data STORE "
            f"reads crops {PACKED_SPEEDUP} faster (docs/performance.md)"]


#: store vs folder crops per second per core on DIV2K-size PNGs, measured by
#: benchmarks/data_throughput.py (the table in docs/performance.md)
PACKED_SPEEDUP = "about 770x"
