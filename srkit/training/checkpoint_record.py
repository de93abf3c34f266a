"""``latest.json`` is untrusted input: a hand edit, a damaged disk or a copied folder can put
anything in it. :func:`checked_record` is the one gate every reader passes through: it checks the
types and ranges of the fields the trainer acts on and keeps the tensor file it names inside the
checkpoint folder, so a bad record is a one-line error, never a traceback, a resume from a negative
iteration or a file read from elsewhere.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from srkit.errors import SrkitError
from srkit.training.config import MAX_ITERS

#: a tensor file name as :func:`srkit.training.checkpoint.tensor_file_name` writes it
TENSOR_FILE = re.compile(r"ckpt-\d{7,}\.safetensors")
#: object-valued fields and what they hold, for the error message
_OBJECTS = {"config": "the run's options", "sampler": "the data position",
            "optimizers": "optimizer state", "schedulers": "scheduler state",
            "scalers": "gradient scaler state", "rng": "random generator state",
            "rng_by_rank": "random generator states", "validation": "the last validation"}
MAX_ITERATION = MAX_ITERS


def checked_record(state: Any, latest: Path, *, full: bool = True) -> dict[str, Any]:
    """``state`` (parsed ``latest.json``) if it is a sound checkpoint record, else a one-line
    :class:`SrkitError` naming ``latest`` and the field. ``full=False`` checks only what a
    reader of the summary needs (``srkit info``), not the fields a resume restores."""
    if not isinstance(state, dict):
        raise SrkitError(f"{latest}: not a checkpoint record (a JSON object expected, "
                         f"found {type(state).__name__})")
    iteration = state.get("iteration")
    if not isinstance(iteration, int) or isinstance(iteration, bool) \
            or not 0 <= iteration <= MAX_ITERATION:
        raise SrkitError(f"{latest}: 'iteration' must be a whole number in [0, {MAX_ITERATION}], "
                         f"found {iteration!r}")
    for name, what in _OBJECTS.items():
        value = state.get(name)
        if value is not None and not isinstance(value, dict):
            raise SrkitError(f"{latest}: {name!r} must be an object ({what}), found {value!r}"[:300])
    if full:
        _check_full(state, latest)
    return state


def _check_full(state: dict[str, Any], latest: Path) -> None:
    tensors = state.get("tensors")
    if not isinstance(tensors, str) or not TENSOR_FILE.fullmatch(tensors):
        raise SrkitError(f"{latest}: 'tensors' must name a ckpt-NNNNNNN.safetensors file of this "
                         f"folder, found {tensors!r}")
    sampler = state.get("sampler") or {}
    for key in ("next_step", "world_size"):
        value = sampler.get(key)
        if value is not None and (not _is_int(value) or value < (1 if key == "world_size" else 0)):
            raise SrkitError(f"{latest}: 'sampler.{key}' must be a whole number, found {value!r}")
    best = state.get("best_psnr")
    if best is not None and (not isinstance(best, (int, float)) or isinstance(best, bool)
                             or not math.isfinite(best)):
        raise SrkitError(f"{latest}: 'best_psnr' must be a finite number or null, found {best!r}")


def tensor_path(folder: Path, state: dict[str, Any]) -> Path:
    """The tensor file a checked record names; refuses one that leads out of ``folder``
    (a symbolic link planted in the checkpoint folder)."""
    path = folder / state["tensors"]
    if path.is_symlink() and not path.resolve().is_relative_to(folder.resolve()):
        raise SrkitError(f"{path}: the checkpoint's tensor file links outside {folder}")
    return path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
