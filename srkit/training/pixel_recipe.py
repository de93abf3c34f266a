"""A recipe training one generator with one pixel loss: the base of SRResNet, ESPCN and friends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from srkit.config import TrainConfig, option
from srkit.interfaces import Batch, Recipe, StepContext
from srkit.nn.losses import build_loss
from srkit.nn.models import build_generator
from srkit.plugins import lookup
from srkit.training.schedules import make_scheduler


@dataclass
class PixelConfig(TrainConfig):
    loss: str = option("l1", "pixel loss: l1 or mse (any registered loss(sr, hr))")


class PixelRecipe(Recipe):
    """Trains one generator with one registered loss.

    Subclasses set :attr:`arch` (a registered generator) and may override
    :meth:`generator_kwargs` to pass architecture options from their config.
    """

    config_class: ClassVar[type[TrainConfig]] = PixelConfig
    arch: ClassVar[str]
    #: Adam betas; SRGAN and EDSR-style training use the defaults.
    betas: ClassVar[tuple[float, float]] = (0.9, 0.999)

    def __init__(self, config: PixelConfig, device: torch.device) -> None:
        super().__init__(config, device)
        generator = build_generator(self.arch, **self.generator_kwargs()).to(device)
        self.nets = {"generator": generator}
        optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=self.betas)
        self.optimizers = {"generator": optimizer}
        self.schedulers = {"generator": make_scheduler(optimizer, config)}
        self.loss = build_loss(config.loss, device)

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        """An unknown ``--loss`` is refused before any work, listing the installed losses."""
        assert isinstance(config, PixelConfig)
        lookup("loss", config.loss)

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the generator factory (JSON-serialisable, with ``scale``)."""
        return {"scale": self.config.scale}

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        return {"pixel": pixel_step(self.loss, batch, ctx)}


def pixel_step(loss_fn: Callable[[Tensor, Tensor], Tensor], batch: Batch, ctx: StepContext,
               net: str = "generator") -> Tensor:
    """One update of ``net`` on ``loss_fn(net(batch.lr), batch.hr)``; returns the detached loss.

    The forward runs under the run's autocast, the loss in float32. Recipes with a pixel-loss
    phase (SRGAN's pretraining) call this instead of repeating it.
    """
    with ctx.autocast():
        sr = ctx.net(net)(batch.lr)
        loss = loss_fn(sr.float(), batch.hr)
    ctx.backward_and_step(loss, net)
    return loss.detach()
