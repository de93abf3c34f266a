"""A tiny plugin for trainer tests: a two-layer generator and a pixel recipe, both named ``tiny``.

Loaded with ``SRKIT_PLUGIN_MODULES=tests.fake_recipe``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srkit.hookspecs import Register, hookimpl
from srkit.interfaces import Batch, StepContext
from srkit.training.config import option
from srkit.training.pixel_recipe import PixelConfig, PixelRecipe

SRKIT_PLUGIN_API = 1


class TinyGenerator(nn.Module):
    """conv -> ReLU -> conv -> PixelShuffle: LR (N,3,h,w) -> SR (N,3,h*scale,w*scale)."""

    def __init__(self, scale: int = 2, channels: int = 8) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 3 * scale * scale, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, lr: Tensor) -> Tensor:
        return self.body(lr)


@dataclass
class TinyConfig(PixelConfig):
    nan_at: int = option(-1, "report a NaN 'fake_term' loss at this iteration (-1 = never)")
    noise: bool = option(False, "add global-RNG noise to the input (exercises RNG checkpointing)")


class TinyRecipe(PixelRecipe):
    config_class = TinyConfig
    description = "two-layer test generator with an L1 loss"
    arch = "tiny"

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        if self.config.noise:
            batch.lr = batch.lr + 0.01 * torch.randn(batch.lr.shape).to(batch.lr.device)
        losses = super().train_step(batch, ctx)
        if ctx.iteration == self.config.nan_at:
            losses["fake_term"] = torch.tensor(float("nan"))
        return losses


@hookimpl
def register_generators(register: Register) -> None:
    register("tiny", TinyGenerator)


@hookimpl
def register_recipes(register: Register) -> None:
    register("tiny", TinyRecipe)
