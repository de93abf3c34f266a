"""Learning-rate schedules give the documented lr at given iterations, also after a reload."""

from __future__ import annotations

import json
import math

import pytest
import torch

from srkit.errors import SrkitError
from srkit.training.pixel_recipe import PixelConfig
from srkit.training.schedules import make_scheduler
from srkit.training.state import decode, encode


def _lr_at(config: PixelConfig, iterations: list[int], **kwargs) -> list[float]:  # noqa: ANN003
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
    scheduler = make_scheduler(optimizer, config, **kwargs)
    lrs, done = [], 0
    for target in iterations:
        while done < target:
            optimizer.step()
            scheduler.step()
            done += 1
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def test_constant_schedule_keeps_the_lr() -> None:
    assert _lr_at(PixelConfig(learning_rate=3e-4, iters=100), [0, 50, 100]) == [3e-4] * 3


def test_multistep_schedule_drops_at_milestones_like_srgan() -> None:
    config = PixelConfig(learning_rate=1e-4, iters=200, learning_rate_schedule="multistep",
                         learning_rate_milestones="100", learning_rate_gamma=0.1)
    lrs = _lr_at(config, [0, 99, 100, 199])
    assert lrs[:2] == [1e-4, 1e-4]
    assert lrs[2] == pytest.approx(1e-5) and lrs[3] == pytest.approx(1e-5)


def test_multistep_without_milestones_drops_halfway() -> None:
    config = PixelConfig(learning_rate=1e-4, iters=10, learning_rate_schedule="multistep")
    assert _lr_at(config, [4, 5]) == [1e-4, pytest.approx(1e-5)]


def test_cosine_schedule_decays_to_lr_min() -> None:
    config = PixelConfig(learning_rate=1e-3, iters=100, learning_rate_schedule="cosine",
                         learning_rate_min=1e-6)
    start, middle, end = _lr_at(config, [0, 50, 100])
    assert start == pytest.approx(1e-3)
    assert middle == pytest.approx(1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi / 2)))
    assert end == pytest.approx(1e-6)


def test_schedule_of_a_later_phase_starts_at_its_first_iteration() -> None:
    config = PixelConfig(learning_rate=1e-4, iters=300, learning_rate_schedule="multistep",
                         learning_rate_milestones="100")
    lrs = _lr_at(config, [150, 199, 200], start=100)
    assert lrs[0] == 1e-4 and lrs[1] == 1e-4 and lrs[2] == pytest.approx(1e-5)


@pytest.mark.parametrize(("schedule", "start"), [("cosine", 0), ("multistep", 0), ("multistep", 20),
                                               ("cosine", 20), ("multistep", 40), ("cosine", 40)])
def test_reloaded_optimizer_and_scheduler_continue_with_the_same_lrs(schedule: str, start: int) -> None:
    """What a resume does: both state dicts through the checkpoint's JSON + tensor codec
    (resumed at iteration 25: after a phase start at 20, before one at 40)."""
    config = PixelConfig(learning_rate=1e-3, iters=100, learning_rate_schedule=schedule,
                         learning_rate_milestones="30")

    def fresh() -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
        return optimizer, make_scheduler(optimizer, config, start=start)

    def run(optimizer, scheduler, steps: int) -> list[float]:  # noqa: ANN001
        lrs = []
        for _ in range(steps):
            optimizer.step()
            scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        return lrs

    optimizer, scheduler = fresh()
    run(optimizer, scheduler, 25)
    tensors: dict[str, torch.Tensor] = {}
    saved = json.loads(json.dumps([encode(optimizer.state_dict(), "optim", tensors),
                                   encode(scheduler.state_dict(), "sched", tensors)]))
    resumed_optimizer, resumed_scheduler = fresh()
    resumed_optimizer.load_state_dict(decode(saved[0], tensors))
    resumed_scheduler.load_state_dict(decode(saved[1], tensors))
    assert run(resumed_optimizer, resumed_scheduler, 75) == run(optimizer, scheduler, 75)


def test_bad_milestones_are_a_one_line_error() -> None:
    config = PixelConfig(learning_rate_schedule="multistep", learning_rate_milestones="ten")
    with pytest.raises(SrkitError, match="learning_rate_milestones"):
        _lr_at(config, [1])
