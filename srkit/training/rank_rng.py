"""Every process's RNG state in one checkpoint, so a resumed multi-process run is the run it continues.

Rank 0's state is stored as ``rng.*`` tensors and the ``rng`` JSON entry (as in a single-process
run); rank ``r > 0`` adds ``rank<r>.rng.*`` tensors and ``rng_by_rank["<r>"]``. The data stream
needs no per-rank state: each rank's batches follow from the step, its rank and the world size
(:mod:`srkit.training.sampling`), and the world size is recorded to warn when it changes.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from srkit.training.checkpoint import Checkpoint, sub_tensors
from srkit.training.distributed import ProcessInfo
from srkit.training.rng import capture_rng, restore_rng


def capture_rank_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's RNG states: ``(tensors, json)`` as :func:`capture_rng` makes them."""
    tensors: dict[str, torch.Tensor] = {}
    state = capture_rng(tensors)
    return {k: v.cpu() for k, v in tensors.items()}, state


def add_rank_rng(tensors: dict[str, torch.Tensor], state: dict[str, Any],
                 every_rank: list[tuple[dict[str, torch.Tensor], dict[str, Any]]]) -> None:
    """Store the RNG states of ranks 1.. beside rank 0's (already in ``tensors``/``state``)."""
    by_rank = {}
    for rank, (rank_tensors, rank_state) in enumerate(every_rank[1:], start=1):
        tensors.update({f"rank{rank}.{k}": v for k, v in rank_tensors.items()})
        by_rank[str(rank)] = rank_state
    if by_rank:
        state["rng_by_rank"] = by_rank


def restore_rank_rng(checkpoint: Checkpoint, info: ProcessInfo) -> None:
    """Restore this process's own RNG state; warn when the checkpoint has none for it."""
    saved_world = checkpoint.state.get("sampler", {}).get("world_size", 1)
    if saved_world != info.world_size and info.is_main:
        warnings.warn(f"resuming with {info.world_size} process(es) a run checkpointed by "
                      f"{saved_world}: data order and random draws differ from the uninterrupted "
                      "run", stacklevel=2)
    own = checkpoint.state.get("rng_by_rank", {}).get(str(info.rank))
    if info.rank == 0 or own is None:
        restore_rng(checkpoint.tensors, checkpoint.state["rng"])
    else:
        restore_rng(sub_tensors(checkpoint.tensors, f"rank{info.rank}"), own)
