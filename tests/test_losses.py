"""One kind of loss, loss(sr, hr) -> scalar: another kind is refused in one line when a recipe is built."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import Tensor, nn

from srkit.errors import SrkitError
from srkit.hookspecs import hookimpl
from srkit.nn.losses import build_loss
from srkit.training.pixel_recipe import PixelConfig, PixelRecipe


class LogitsLoss(nn.Module):
    """A generator's GAN loss on (N, 1) logits, registered as if it were a pixel loss."""

    def forward(self, logits: Tensor, real: bool) -> Tensor:
        if real:
            return nn.functional.softplus(-logits).mean()
        return nn.functional.softplus(logits).mean()


class TinyNet(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(3, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, lr: Tensor) -> Tensor:
        return self.body(lr)


class PerPixelLoss(nn.Module):
    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        return (sr - hr).abs()  # no reduction: not a scalar


@pytest.fixture
def odd_losses(srkit_plugins):
    module = types.ModuleType("odd_losses_plugin")

    @hookimpl
    def register_losses(register) -> None:
        register("logits", LogitsLoss)
        register("per-pixel", PerPixelLoss)

    @hookimpl
    def register_generators(register) -> None:
        register("tiny", TinyNet)

    module.register_losses = register_losses
    module.register_generators = register_generators
    sys.modules[module.__name__] = module
    yield srkit_plugins(module.__name__)
    del sys.modules[module.__name__]


def test_a_loss_on_logits_is_refused_in_one_line(odd_losses) -> None:
    expected = (r"^loss 'logits' is not a loss\(sr, hr\) on image batches: calling it so raised "
                r"RuntimeError: Boolean value of Tensor")
    with pytest.raises(SrkitError, match=expected) as info:
        build_loss("logits")
    assert "\n" not in str(info.value)


def test_a_loss_that_is_not_a_scalar_is_refused(odd_losses) -> None:
    with pytest.raises(SrkitError, match=r"'per-pixel' .* it returned \(1, 3, 32, 32\), not a finite scalar"):
        build_loss("per-pixel")


def test_the_pixel_recipe_refuses_it_when_it_is_built(odd_losses) -> None:
    class Plain(PixelRecipe):
        arch = "tiny"

    with pytest.raises(SrkitError, match="loss 'logits' is not a loss"):
        Plain(PixelConfig(loss="logits"), torch.device("cpu"))


def test_the_core_pixel_losses_are_built(odd_losses) -> None:
    sr, hr = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    assert build_loss("l1")(sr, hr).item() == pytest.approx(0.5)
    assert build_loss("mse")(sr, hr).item() == pytest.approx(0.25)


def test_training_with_the_adversarial_loss_as_pixel_loss_stops_in_one_line(srkit_cli, tmp_path) -> None:
    result = srkit_cli("train", "srresnet", "--preset", "quick", "--loss", "adversarial", "--iters", 4,
                       "--out", tmp_path / "run", "--device", "cpu")
    assert result.code == 2
    assert result.err.startswith("error: unknown loss 'adversarial'; installed: ")
    assert result.err.count("\n") == 1
    assert not (tmp_path / "run" / "log.jsonl").exists()
