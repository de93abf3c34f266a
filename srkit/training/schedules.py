"""Learning-rate schedules as pure functions of the iteration, so a resumed run gets the same lr.

Each schedule is a picklable callable object returning the factor applied to the base lr; it is
wrapped in ``LambdaLR`` so its state (``last_epoch`` and the factor's fields) is plain JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

from srkit.errors import SrkitError
from srkit.training.config import TrainConfig

SCHEDULES = ("constant", "multistep", "cosine")


@dataclass
class ConstantFactor:
    def __call__(self, iteration: int) -> float:
        return 1.0


@dataclass
class MultiStepFactor:
    """lr * gamma^(number of milestones reached); SRGAN trains 1e-4 then 1e-5 this way."""

    milestones: list[int]
    gamma: float
    start: int = 0

    def __call__(self, iteration: int) -> float:
        reached = sum(1 for m in self.milestones if iteration - self.start >= m)
        return self.gamma**reached


@dataclass
class CosineFactor:
    """Cosine decay from 1 to ``min_ratio`` over ``total`` iterations, then flat (DRN)."""

    total: int
    min_ratio: float
    start: int = 0

    def __call__(self, iteration: int) -> float:
        progress = min(max(iteration - self.start, 0), self.total) / max(self.total, 1)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def parse_milestones(text: str, total: int) -> list[int]:
    """``"1000,2000"`` -> ``[1000, 2000]``; empty means one milestone halfway through ``total``."""
    if not str(text).strip():
        return [max(total // 2, 1)]
    try:
        return sorted(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise SrkitError(
            f"lr_milestones: expected comma-separated iterations, got {text!r}"
        ) from None


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, *, start: int = 0,
                   total: int | None = None, schedule: str | None = None) -> LambdaLR:
    """The scheduler ``config.lr_schedule`` asks for (constant, multistep or cosine).

    ``start``/``total`` let a recipe schedule one phase of a run (e.g. SRGAN's adversarial
    phase starting at iteration ``start`` and lasting ``total`` iterations); by default the
    schedule spans the whole run. The trainer steps every scheduler once per iteration.
    """
    schedule = schedule or config.lr_schedule
    total = config.iters - start if total is None else total
    if schedule == "constant":
        factor = ConstantFactor()
    elif schedule == "multistep":
        milestones = parse_milestones(config.lr_milestones, total)
        factor = MultiStepFactor(milestones, config.lr_gamma, start)
    elif schedule == "cosine":
        min_ratio = config.lr_min / config.lr if config.lr > 0 else 0.0
        factor = CosineFactor(total, min_ratio, start)
    else:
        expected = ", ".join(SCHEDULES)
        raise SrkitError(f"lr_schedule: unknown schedule {schedule!r} (expected {expected})")
    return LambdaLR(optimizer, factor)
