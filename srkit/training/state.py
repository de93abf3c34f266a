"""Checkpoint files: crash-safe pairs of a safetensors file (tensors) and ``latest.json`` (the rest).

Layout of ``OUT/checkpoints/``::

    ckpt-0000500.safetensors   every tensor of the training state at iteration 500
    ckpt-0001000.safetensors   the newest one
    latest.json                JSON state; names the tensor file it belongs to

The tensor file is written first, then ``latest.json`` (each by :mod:`srkit.atomic_files`),
so a kill at any moment leaves ``latest.json`` naming a complete tensor file. The ``--keep`` newest
tensor files are kept (2 by default: the newest and the one before); older ones are deleted.

Nested state (optimizer/scheduler state dicts) <-> flat tensors + a JSON skeleton.

Checkpoints never unpickle: tensors go to safetensors under generated keys, everything else
(ints, floats, strings, tuples, dicts with int keys) to JSON with small type tags.
``torch.load(weights_only=True)`` of a pickled state would be shorter, but its restricted
unpickler has been escaped before (CVE-2025-32434, torch < 2.6, which srkit still supports);
JSON and safetensors cannot run code whatever a file holds.

Every process's RNG state in one checkpoint, so a resumed multi-process run is the run it continues.

Rank 0's state is stored as ``rng.*`` tensors and the ``rng`` JSON entry (as in a single-process
run); rank ``r > 0`` adds ``rank<r>.rng.*`` tensors and ``rng_by_rank["<r>"]``. The data stream
needs no per-rank state: each rank's batches follow from the step, its rank and the world size
(:mod:`srkit.training.batches`), and the world size is recorded to warn when it changes.

The full training state of a recipe as checkpoint tensors + JSON, and back.

Tensor keys: ``net.<name>.*``, ``ema.<name>.*``, ``optim.<name>.*``, ``sched.<name>.*``,
``rng.*``. The JSON holds optimizer/scheduler/scaler structure, RNG states of numpy and python,
the data stream position and the best validation PSNR.

``--init FILE``: start a run from exported weights, the generator and its extra modules.

This is the one place that reads ``--init``: the scale of a run comes from the file when
``--scale`` is not given, and every module the file holds (the generator, and extras such as
DRN's ``dual`` models) is loaded here by name, after the architecture and scale are checked.

``latest.json`` is untrusted input: a hand edit, a damaged disk or a copied folder can put
anything in it. :func:`checked_record` is the one gate every reader passes through: it checks the
types and ranges of the fields the trainer acts on and keeps the tensor file it names inside the
checkpoint folder, so a bad record is a one-line error, never a traceback, a resume from a negative
iteration or a file read from elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from srkit.atomic_files import atomic_save_safetensors, atomic_write_text
from srkit.config import MAX_ITERS, TrainConfig
from srkit.errors import SrkitError, first_informative_line
from srkit.interfaces import Recipe
from srkit.nn.models import describe, unwrap
from srkit.training.context import TrainContext
from srkit.training.distributed import ProcessInfo
from srkit.training.ema import EMA
from srkit.training.rng import capture_rng, restore_rng
from srkit.weights.files import split_extras
from srkit.weights.model_files import model_file_scale, read_model_file

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


_TENSOR, _TUPLE, _PAIRS = "__tensor__", "__tuple__", "__pairs__"


def encode(value: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able skeleton of ``value``; its tensors are added to ``tensors`` under ``prefix.*``."""
    if isinstance(value, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = value.detach().cpu().clone()
        return {_TENSOR: key}
    if isinstance(value, tuple):
        return {_TUPLE: [encode(v, prefix, tensors) for v in value]}
    if isinstance(value, list):
        return [encode(v, prefix, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v, prefix, tensors) for k, v in value.items()}
        return {_PAIRS: [[k, encode(v, prefix, tensors)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def decode(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(skeleton, list):
        return [decode(v, tensors) for v in skeleton]
    if isinstance(skeleton, dict):
        if _TENSOR in skeleton:
            return tensors[skeleton[_TENSOR]]
        if _TUPLE in skeleton:
            return tuple(decode(v, tensors) for v in skeleton[_TUPLE])
        if _PAIRS in skeleton:
            return {_restore_key(k): decode(v, tensors) for k, v in skeleton[_PAIRS]}
        return {k: decode(v, tensors) for k, v in skeleton.items()}
    return skeleton


def _restore_key(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


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


def gather_state(recipe: Recipe, ctx: TrainContext, ema: EMA | None) -> tuple[
    dict[str, torch.Tensor], dict[str, Any]
]:
    tensors: dict[str, torch.Tensor] = {}
    for name, net in recipe.nets.items():
        tensors.update({f"net.{name}.{k}": v for k, v in unwrap(net).state_dict().items()})
    if ema is not None:
        tensors.update({f"ema.{k}": v for k, v in ema.state_tensors().items()})
    state = {
        "optimizers": {name: encode(opt.state_dict(), f"optim.{name}", tensors)
                       for name, opt in recipe.optimizers.items()},
        "schedulers": {name: encode(s.state_dict(), f"sched.{name}", tensors)
                       for name, s in recipe.schedulers.items()},
        "scalers": {name: s.state_dict() for name, s in ctx.scalers.items()},
        "rng": capture_rng(tensors),
    }
    return tensors, state


def check_nets_fit(checkpoint: Checkpoint, recipe: Recipe, current: dict[str, Any],
                   source: str) -> None:
    """The checkpoint's nets have the shapes of this run's nets; otherwise a one-line error naming
    the options that differ from the run that wrote it (``--channels 8, not 16``).

    ``current`` is this run's config record; the checkpoint's own is ``state["config"]``.
    """
    saved = checkpoint.state.get("config") or {}
    for name, net in recipe.nets.items():
        expected = {k: tuple(v.shape) for k, v in unwrap(net).state_dict().items()}
        found = {k: tuple(v.shape) for k, v in sub_tensors(checkpoint.tensors, f"net.{name}").items()}
        if expected == found:
            continue
        run_options = {f.name for f in dataclasses.fields(TrainConfig)} - {"scale"}
        differing = [f"--{key.replace('_', '-')} {saved[key]} (this run: {current[key]})"
                     for key in sorted(saved) if key in current and key not in run_options
                     and saved[key] != current[key]]
        if differing:
            why = f"it was trained with {'; '.join(differing)}"
        else:
            key = next((k for k in expected if expected[k] != found.get(k)), next(iter(found), "?"))
            why = f"tensor {key!r} is {found.get(key)} in the checkpoint, {expected.get(key)} here"
        raise SrkitError(f"{source}: the checkpoint's {name} does not fit this run: {why}")


def restore_state(checkpoint: Checkpoint, recipe: Recipe, ctx: TrainContext,
                  ema: EMA | None) -> None:
    """Load nets, EMA, optimizers, schedulers and scalers (RNG is restored separately, last)."""
    tensors, state = checkpoint.tensors, checkpoint.state
    for name, net in recipe.nets.items():
        unwrap(net).load_state_dict(sub_tensors(tensors, f"net.{name}"))
    if ema is not None:
        ema_tensors = sub_tensors(tensors, "ema")
        if ema_tensors:
            ema.load_state_tensors(ema_tensors)
        else:  # EMA switched on when resuming: start the average from the current weights
            for name, shadow in ema.shadows.items():
                shadow.load_state_dict(unwrap(recipe.nets[name]).state_dict())
    for name, opt in recipe.optimizers.items():
        opt.load_state_dict(decode(state["optimizers"][name], tensors))
    for name, scheduler in recipe.schedulers.items():
        scheduler.load_state_dict(decode(state["schedulers"][name], tensors))
    for name, scaler in ctx.scalers.items():
        saved = state["scalers"].get(name)
        if saved:
            scaler.load_state_dict(saved)


def scale_from_init(path: str, chosen_scale: int | None) -> int | None:
    """The run's scale given ``--init path``: the file's own, or an error if ``--scale`` differs.

    Returns None when the file does not record its scale (the recipe's default then applies).
    """
    file_scale = model_file_scale(path)
    if chosen_scale is not None and file_scale is not None and chosen_scale != file_scale:
        raise SrkitError(f"{path}: weights are for x{file_scale}, not --scale {chosen_scale}; "
                         "leave out --scale to train at the file's scale")
    return file_scale if chosen_scale is None else chosen_scale


def load_init_weights(path: Path, recipe: Recipe, recipe_name: str) -> list[str]:
    """Load the generator and every extra module the file holds into ``recipe``'s networks.

    Extras are matched by name against the recipe's ``export_extras()`` and ``nets``, so a run
    that does not export a module (``--no-save-dual``) still starts it from the file. Returns
    the names of the modules loaded.
    """
    tensors, info = read_model_file(path)  # srkit weights, or a checkpoint a converter reads
    generator = recipe.nets["generator"]
    arch, kwargs = describe(generator)
    if info["arch"] != arch:
        raise SrkitError(f"{path}: weights are for architecture {info['arch']!r}, "
                         f"recipe {recipe_name!r} trains {arch!r}")
    if info["scale"] != kwargs.get("scale"):
        raise SrkitError(f"{path}: weights are for x{info['scale']}, not x{kwargs.get('scale')}")
    state, extras = split_extras(tensors, info["extras"])
    _load(generator, state, path, f"this {arch!r} generator")
    loaded = ["generator"]
    modules = {**recipe.nets, **recipe.export_extras()}
    for prefix, extra_state in extras.items():
        module = modules.get(prefix)
        if module is not None and extra_state:
            _load(module, extra_state, path, f"the {prefix!r} module of {recipe_name!r}")
            loaded.append(prefix)
    return loaded


def _load(module: nn.Module, state: dict[str, Any], path: Path, what: str) -> None:
    try:
        unwrap(module).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise SrkitError(f"{path}: weights do not fit {what} ({first_informative_line(exc)})"
                         ) from None


#: a tensor file name as :func:`tensor_file_name` writes it
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


def checked_tensor_path(folder: Path, state: dict[str, Any]) -> Path:
    """The tensor file a checked record names; refuses one that leads out of ``folder``
    (a symbolic link planted in the checkpoint folder)."""
    path = folder / state["tensors"]
    if path.is_symlink() and not path.resolve().is_relative_to(folder.resolve()):
        raise SrkitError(f"{path}: the checkpoint's tensor file links outside {folder}")
    return path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
