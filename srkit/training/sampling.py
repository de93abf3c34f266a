"""A checkpointable, shardable, infinite stream of training samples.

The stream is the concatenation of per-epoch permutations drawn from ``(seed, epoch)``. Step ``k``
of rank ``r`` takes positions ``[(k * world + r) * B, ... + B)``, so the batches of any step are
known from the step number alone: resuming at step ``k`` needs no other sampler state, and the
ranks of a multi-process run see disjoint samples. Each sample also gets its own seed (from the
run seed and its stream position), under which the dataset draws its random crop, so a sample is
the same whichever worker process loads it and whenever.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, get_worker_info

from srkit.training.rng import derive_seed, isolated_rng, seed_cpu_rngs


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
