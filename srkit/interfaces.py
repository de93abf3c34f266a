"""The interfaces plugins implement. Every image tensor in srkit follows one convention:

    float tensor, shape (N, 3, H, W), RGB, values in [0, 1]

(generators may return values slightly outside [0, 1]; callers clamp before quantising).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from srkit.training.config import TrainConfig


@runtime_checkable
class Generator(Protocol):
    """A super-resolution network: ``nn.Module`` mapping LR (N,3,h,w) to SR (N,3,h*scale,w*scale).

    Built by a factory registered with ``register_generators`` as ``factory(scale=..., **kwargs)``.
    The module exposes its integer ``scale``. Build one with :func:`srkit.models.build_generator`,
    which also records the architecture name and arguments so weights can be saved self-describing.
    """

    scale: int

    def __call__(self, lr: Tensor) -> Tensor: ...


@runtime_checkable
class Degradation(Protocol):
    """Maps HR batches (N,3,H,W) to LR batches (N,3,H/scale,W/scale), both in [0, 1].

    Built by a factory registered with ``register_degradations`` as ``factory(**options)``.
    Deterministic unless it is randomised; randomised ones draw only from ``generator``.
    H and W must be multiples of ``scale``. The output may overshoot [0, 1] and stay float:
    every caller goes through :func:`srkit.degradations.make_lr`, which clamps and rounds to
    8 bits (unless training turns that off with ``--no-quantize-lr``).

    Optional method ``levels(hr, factors, *, generator=None) -> list[Tensor]``: the LR at each
    downscaling factor of ``factors`` (one per factor, same order) from a single random draw,
    for recipes that supervise intermediate scales (DRN). Without it,
    :func:`srkit.degradations.make_lr_levels` makes the largest factor with ``__call__`` and the
    others by MATLAB bicubic downscaling. Either way the largest factor's level must equal
    ``__call__`` at that factor given an identically seeded generator.
    """

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor: ...


@dataclass
class Batch:
    """One training batch, already on the training device.

    ``hr``: (N,3,H,W) targets; ``lr``: (N,3,H/s,W/s) inputs made from ``hr`` by the run's degradation
    (or read from a paired folder). ``extra`` holds the recipe's additional streams (see
    :meth:`Recipe.extra_datasets`), e.g. ``extra["unpaired_lr"]``: LR-only crops with no HR.
    """

    lr: Tensor
    hr: Tensor
    extra: dict[str, Tensor] = field(default_factory=dict)
    #: LR at the extra downscaling factors of :meth:`Recipe.lr_factors`, made from ``hr`` by the
    #: run's degradation in the same random draw as ``lr`` (keyed by factor).
    lr_levels: dict[int, Tensor] = field(default_factory=dict)


class StepContext(Protocol):
    """What the trainer gives a recipe for one training step.

    The trainer owns mixed precision, gradient scaling, clipping, DDP and EMA; a recipe only
    computes losses inside :meth:`autocast` and hands each one to :meth:`backward_and_step`.
    """

    iteration: int
    device: torch.device

    def net(self, name: str) -> nn.Module:
        """The module ``recipe.nets[name]`` as it must be called for training (DDP-wrapped, compiled)."""
        ...

    def autocast(self) -> AbstractContextManager[Any]:
        """Context for forward passes: autocast in the run's precision, or a no-op in fp32."""
        ...

    def backward_and_step(self, loss: Tensor, optimizer: str) -> None:
        """zero_grad, (scaled) backward, unscale, clip, step the named optimizer; updates EMA of its nets."""
        ...


class Recipe(ABC):
    """A trainable model: which networks, which losses, how one training step goes.

    Registered with ``register_recipes`` under the name ``srkit train NAME`` uses. The trainer
    constructs it as ``Recipe(config, device)``, then checkpoints everything in :attr:`nets`,
    :attr:`optimizers` and :attr:`schedulers`, validates and exports ``nets["generator"]``.
    """

    #: dataclass (a subclass of :class:`srkit.training.config.TrainConfig`) listing the recipe's
    #: options; every field becomes a ``srkit train NAME --flag`` and a config-file key.
    config_class: ClassVar[type[TrainConfig]]
    #: one line shown by ``srkit train --help`` and ``srkit plugins``.
    description: ClassVar[str] = ""

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.device = device

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        """Reject configs this recipe cannot train, with a one-line :class:`srkit.errors.SrkitError`.

        Called before any work starts, after every field was checked against the bounds declared
        in its ``option(...)``; put only rules that involve this recipe's meaning here.
        """
        return None

    @abstractmethod
    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        """Run one optimisation step; return every loss term (detached scalars) for the log.

        A non-finite value in the returned dict stops the run and names the term.
        """

    def extra_datasets(self) -> dict[str, torch.utils.data.Dataset]:
        """Additional named data streams; the trainer batches each into ``batch.extra[name]``."""
        return {}

    def describe_stream(self, name: str, count: int) -> str:
        """How the start summary names extra stream ``name`` holding ``count`` images, in the
        user's words (e.g. "20 LR-only images (30% of each batch)")."""
        return f"{count} images in stream {name!r}"

    def lr_factors(self) -> tuple[int, ...]:
        """Downscaling factors besides the run's scale whose LR each batch must carry in
        :attr:`Batch.lr_levels` (e.g. DRN's intermediate targets: 2 and 4 at x8)."""
        return ()

    def phase(self, iteration: int) -> str:
        """A short name of the training phase at ``iteration`` (shown in logs), e.g. ``pretrain``."""
        return "train"

    def start_notes(self) -> list[str]:
        """Sentences printed once when a run starts: what this configuration does, when surprising."""
        return []

    def ema_nets(self) -> Iterator[str]:
        """Names of the nets whose exponential moving average is kept when ``--ema`` is on."""
        yield "generator"

    def export_extras(self) -> dict[str, nn.Module]:
        """Extra modules saved beside the generator in the weights file (e.g. DRN's dual models)."""
        return {}
