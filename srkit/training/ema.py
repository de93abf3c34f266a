"""Exponential moving average of network weights (evaluated and exported instead of the raw ones)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * weights`` for some of a recipe's nets.

    Buffers (e.g. BatchNorm statistics) are copied, not averaged.
    """

    def __init__(self, nets: dict[str, nn.Module], decay: float) -> None:
        self.decay = decay
        self.shadows = {name: copy.deepcopy(net).eval().requires_grad_(False)
                        for name, net in nets.items()}

    @torch.no_grad()
    def update(self, name: str, net: nn.Module) -> None:
        shadow = self.shadows[name]
        params: list[torch.Tensor] = [p for p in net.parameters() if p.dtype.is_floating_point]
        shadow_params: list[torch.Tensor] = [p for p in shadow.parameters()
                                             if p.dtype.is_floating_point]
        torch._foreach_lerp_(shadow_params, params, 1.0 - self.decay)
        for shadow_buffer, buffer in zip(shadow.buffers(), net.buffers(), strict=True):
            shadow_buffer.copy_(buffer)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {f"{name}.{key}": value for name, shadow in self.shadows.items()
                for key, value in shadow.state_dict().items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, shadow in self.shadows.items():
            prefix = f"{name}."
            shadow.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                                    if k.startswith(prefix)})
