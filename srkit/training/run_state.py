"""The full training state of a recipe as checkpoint tensors + JSON, and back.

Tensor keys: ``net.<name>.*``, ``ema.<name>.*``, ``optim.<name>.*``, ``sched.<name>.*``,
``rng.*``. The JSON holds optimizer/scheduler/scaler structure, RNG states of numpy and python,
the data stream position and the best validation PSNR.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from srkit.errors import SrkitError
from srkit.interfaces import Recipe
from srkit.models import unwrap
from srkit.training.checkpoint import Checkpoint, sub_tensors
from srkit.training.config import TrainConfig
from srkit.training.context import TrainContext
from srkit.training.ema import EMA
from srkit.training.rng import capture_rng
from srkit.training.state_codec import decode, encode


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
