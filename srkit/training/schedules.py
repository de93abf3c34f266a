"""Learning-rate schedules: torch's own schedulers, chosen by ``config.learning_rate_schedule``.

``constant`` is ``ConstantLR`` with factor 1, ``multistep`` is ``MultiStepLR``, ``cosine`` is
``CosineAnnealingLR``; a schedule of a later phase (SRGAN's adversarial phase) is wrapped in
``SequentialLR`` that keeps the learning rate flat until the phase starts. Their state dicts hold only
numbers, so a resumed run (optimizer and scheduler state restored) continues with the same lr.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import torch
from torch.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    LRScheduler,
    MultiStepLR,
    SequentialLR,
)

from srkit.config import TrainConfig
from srkit.errors import SrkitError

SCHEDULES = ("constant", "multistep", "cosine")


def parse_milestones(text: str, total: int) -> list[int]:
    """``"1000,2000"`` -> ``[1000, 2000]``; empty means one milestone halfway through ``total``."""
    if not str(text).strip():
        return [max(total // 2, 1)]
    try:
        return sorted(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise SrkitError(
            f"learning_rate_milestones: expected comma-separated iterations, got {text!r}"
        ) from None


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, *, start: int = 0,
                   total: int | None = None, schedule: str | None = None) -> LRScheduler:
    """The scheduler ``schedule`` (default ``config.learning_rate_schedule``) asks for, stepped
    once per iteration.

    - ``multistep``: learning rate x ``config.learning_rate_gamma`` at each of
      ``config.learning_rate_milestones`` (iterations
      counted from ``start``; empty: one milestone halfway through ``total``).
    - ``cosine``: cosine decay over ``total`` iterations down to ``config.learning_rate_min`` (for
      an optimizer whose learning rate is not ``config.learning_rate``, down to the same fraction
      of its own learning rate).
    - ``constant``: the optimizer's learning rate throughout.

    ``start``/``total`` schedule one phase of a run (e.g. SRGAN's adversarial phase starting at
    iteration ``start`` and lasting ``total`` iterations); by default the whole run.
    """
    schedule = schedule or config.learning_rate_schedule
    total = config.iters - start if total is None else total
    if schedule == "constant":
        return ConstantLR(optimizer, factor=1.0, total_iters=0)
    if schedule == "multistep":
        phase: LRScheduler = _MultiStepLR(optimizer, parse_milestones(config.learning_rate_milestones, total),
                                          gamma=config.learning_rate_gamma)
    elif schedule == "cosine":
        base = optimizer.param_groups[0]["lr"]
        eta_min = config.learning_rate_min * base / config.learning_rate if config.learning_rate > 0 else 0.0
        phase = CosineAnnealingLR(optimizer, T_max=max(total, 1), eta_min=eta_min)
    else:
        expected = ", ".join(SCHEDULES)
        raise SrkitError(f"learning_rate_schedule: unknown schedule {schedule!r} (expected {expected})")
    if start <= 0:
        return phase
    flat = ConstantLR(optimizer, factor=1.0, total_iters=0)
    return _PhaseLR(optimizer, [flat, phase], milestones=[start])


class _PhaseLR(SequentialLR):
    """``SequentialLR`` without the warning torch emits when it restarts the next scheduler."""

    def step(self) -> None:  # type: ignore[override]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*epoch parameter.*")
            super().step()


class _MultiStepLR(MultiStepLR):
    """``MultiStepLR`` whose milestones are a ``Counter`` again after a reload from JSON
    (``SequentialLR`` starting it at a phase boundary needs ``Counter.elements``)."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter(self.milestones)
