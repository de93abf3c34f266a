"""Checkpoint files: crash-safe pairs of a safetensors file (tensors) and ``latest.json`` (the rest).

Layout of ``OUT/checkpoints/``::

    ckpt-0000500.safetensors   every tensor of the training state at iteration 500
    ckpt-0001000.safetensors   the newest one
    latest.json                JSON state; names the tensor file it belongs to

The tensor file is written first, then ``latest.json`` (each by :mod:`srkit.atomic_files`),
so a kill at any moment leaves ``latest.json`` naming a complete tensor file. The ``--keep`` newest
tensor files are kept (2 by default: the newest and the one before); older ones are deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from srkit.atomic_files import atomic_save_safetensors, atomic_write_text
from srkit.errors import SrkitError
from srkit.training.checkpoint_record import checked_record
from srkit.training.checkpoint_record import tensor_path as checked_tensor_path

LATEST = "latest.json"
FORMAT = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint: ``state`` (the JSON part) and ``tensors``."""

    state: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @property
    def iteration(self) -> int:
        return int(self.state["iteration"])


def tensor_file_name(iteration: int) -> str:
    return f"ckpt-{iteration:07d}.safetensors"


def write_checkpoint(folder: Path, iteration: int, tensors: dict[str, torch.Tensor],
                     state: dict[str, Any], keep: int = 2) -> None:
    """Write the state at ``iteration``; keep the ``keep`` newest tensor files, delete older ones."""
    folder.mkdir(parents=True, exist_ok=True)
    name = tensor_file_name(iteration)
    atomic_save_safetensors(tensors, folder / name, {"srkit.checkpoint": str(FORMAT)})
    state = {**state, "format": FORMAT, "iteration": iteration, "tensors": name}
    atomic_write_text(folder / LATEST, json.dumps(state, indent=1))
    others = sorted(p.name for p in folder.glob("ckpt-*.safetensors") if p.name != name)
    kept = set(others[len(others) - (keep - 1):]) if keep > 1 else set()
    for old in others:
        if old not in kept:
            (folder / old).unlink(missing_ok=True)


def has_checkpoint(folder: Path) -> bool:
    return (folder / LATEST).is_file()


def read_checkpoint(folder: Path) -> Checkpoint:
    """The checkpoint ``latest.json`` names, or a one-line error."""
    latest = folder / LATEST
    if not latest.is_file():
        raise SrkitError(f"{folder}: no checkpoint to resume from (no {LATEST})")
    state = _load_record(latest)
    if state.get("format") != FORMAT:
        raise SrkitError(f"{latest}: checkpoint format {state.get('format')!r}, expected {FORMAT}")
    checked_record(state, latest)
    tensor_path = checked_tensor_path(folder, state)
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise SrkitError(f"{tensor_path}: unreadable checkpoint tensors ({exc})") from None
    return Checkpoint(state, tensors)


def sub_tensors(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix.``, with the prefix removed."""
    start = len(prefix) + 1
    return {k[start:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def read_checkpoint_state(folder: Path) -> dict[str, Any]:
    """Only the JSON part of the latest checkpoint (cheap: for reading the saved config)."""
    latest = folder / LATEST
    if not latest.is_file():
        raise SrkitError(f"{folder}: no checkpoint to resume from (no {LATEST})")
    return checked_record(_load_record(latest), latest, full=False)


def _load_record(latest: Path) -> Any:
    try:
        return json.loads(latest.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise SrkitError(f"{latest}: unreadable checkpoint state ({exc})") from None


def describe_checkpoint_file(path: Path) -> dict[str, Any] | None:
    """What ``srkit info`` says about a training checkpoint; None if ``path`` is not one.

    A checkpoint tensor file (``ckpt-*.safetensors``), its ``latest.json`` or the
    ``checkpoints/`` folder: the iteration, the recipe and its config, and the run folder.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if path.is_dir() or path.name == LATEST:
        path = folder / LATEST
        if not path.is_file():
            return None
        state = read_checkpoint_state(folder)
    else:
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                if "srkit.checkpoint" not in (f.metadata() or {}):
                    return None
        except (SafetensorError, OSError, ValueError):
            return None
        state = _state_naming(folder, path.name)
    config = state.get("config") or {}
    return {"file": str(path), "iteration": state.get("iteration"), "recipe": config.get("recipe"),
            "scale": config.get("scale"), "iters": config.get("iters"), "config": config,
            "validation": state.get("validation"), "run": str(folder.parent)}


def _state_naming(folder: Path, tensor_name: str) -> dict[str, Any]:
    """``latest.json`` if it belongs to ``tensor_name``, else just the iteration in the name."""
    try:
        state = checked_record(_load_record(folder / LATEST), folder / LATEST, full=False)
        if state.get("tensors") == tensor_name:
            return state
    except SrkitError:
        pass
    digits = tensor_name.removeprefix("ckpt-").removesuffix(".safetensors")
    return {"iteration": int(digits) if digits.isdigit() else None}
