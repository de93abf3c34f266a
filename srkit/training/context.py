"""The :class:`srkit.interfaces.StepContext` the trainer hands a recipe at every step.

It owns everything a recipe should not care about: mixed precision, gradient scaling,
clipping, DDP/compile wrappers, channels_last and the EMA update after each optimizer step.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from srkit.config import TrainConfig
from srkit.errors import SrkitError
from srkit.interfaces import Recipe
from srkit.training.distributed import ProcessInfo
from srkit.training.ema import EMA

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _trainable(net: nn.Module) -> bool:
    return any(p.requires_grad for p in net.parameters())


def prepare_net(net: nn.Module, config: TrainConfig, info: ProcessInfo,
                device: torch.device) -> nn.Module:
    """The module as training calls it: channels_last, DDP-wrapped, compiled (each if asked)."""
    if config.channels_last:
        net = net.to(memory_format=torch.channels_last)
    if info.distributed and _trainable(net):
        device_ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(net, device_ids=device_ids)
    if config.compile:
        net = torch.compile(net)  # type: ignore[assignment]  # an OptimizedModule
    return net


class TrainContext:
    """Implements :class:`srkit.interfaces.StepContext` for one run."""

    def __init__(self, recipe: Recipe, config: TrainConfig, device: torch.device,
                 info: ProcessInfo, ema: EMA | None) -> None:
        self.iteration = 0
        self.device = device
        self.recipe, self.config, self.ema = recipe, config, ema
        self._nets = {name: prepare_net(net, config, info, device)
                      for name, net in recipe.nets.items()}
        use_scaler = config.amp == "fp16"
        self.scalers = {name: torch.amp.GradScaler(device.type, enabled=use_scaler)
                        for name in recipe.optimizers}
        self._ema_nets_of = {name: self._ema_nets_updated_by(opt)
                             for name, opt in recipe.optimizers.items()}

    def _ema_nets_updated_by(self, optimizer: torch.optim.Optimizer) -> list[str]:
        if self.ema is None:
            return []
        optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
        return [name for name in self.ema.shadows
                if any(id(p) in optimized for p in self.recipe.nets[name].parameters())]

    def net(self, name: str) -> nn.Module:
        try:
            return self._nets[name]
        except KeyError:
            raise SrkitError(f"recipe asked for net {name!r}; it has {sorted(self._nets)}") from None

    def autocast(self) -> AbstractContextManager[Any]:
        dtype = AMP_DTYPES.get(self.config.amp)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def backward_and_step(self, loss: Tensor, optimizer: str) -> None:
        try:
            opt = self.recipe.optimizers[optimizer]
        except KeyError:
            raise SrkitError(
                f"recipe stepped optimizer {optimizer!r}; it has {sorted(self.recipe.optimizers)}"
            ) from None
        scaler = self.scalers[optimizer]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.config.grad_clip > 0:
            scaler.unscale_(opt)
            params = [p for group in opt.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        scaler.step(opt)
        scaler.update()
        for name in self._ema_nets_of[optimizer]:
            assert self.ema is not None  # nets are listed only when EMA is on
            self.ema.update(name, self.recipe.nets[name])
