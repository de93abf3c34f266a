"""A tiny plugin for trainer tests: a two-layer generator and a pixel recipe, both named ``tiny``.

Loaded with ``SRKIT_PLUGIN_MODULES=tests.fake_recipe``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from srkit.config import option
from srkit.hookspecs import Register, hookimpl
from srkit.interfaces import Batch, StepContext
from srkit.training.pixel_recipe import PixelConfig, PixelRecipe

SRKIT_PLUGIN_API = 4


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


def _dump_final_weights(generator: nn.Module) -> None:
    """With ``TINY_DUMP_DIR`` set, every process saves its final weights (DDP tests compare them)."""
    folder = os.environ.get("TINY_DUMP_DIR")
    if folder:
        rank = os.environ.get("RANK", "0")
        save_file(dict(generator.state_dict()), os.path.join(folder, f"rank{rank}.safetensors"))


def _fail_if_asked(iteration: int) -> None:
    """``TINY_FAIL=RANK:ITERATION`` makes that process die at that iteration (DDP failure tests)."""
    rank, _, at = os.environ.get("TINY_FAIL", "").partition(":")
    if rank and int(rank) == int(os.environ.get("RANK", "0")) and int(at) == iteration:
        raise RuntimeError(f"injected failure of rank {rank} at iteration {at}")


@dataclass
class TinyConfig(PixelConfig):
    nan_at: int = option(-1, "report a NaN 'fake_term' loss at this iteration (-1 = never)",
                        min=-1)
    noise: bool = option(False, "add global-RNG noise to the input (exercises RNG checkpointing)")
    step_sleep: float = option(0.0, "sleep this many seconds in every step (signal tests)")


class TinyRecipe(PixelRecipe):
    config_class = TinyConfig
    description = "two-layer test generator with an L1 loss"
    arch = "tiny"

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        _fail_if_asked(ctx.iteration)
        rank = int(os.environ.get("RANK", "0"))
        if os.environ.get("TINY_RANK_DRAWS"):  # rank r draws r numbers: the ranks' RNGs diverge
            torch.rand(rank)
        if self.config.noise:
            batch.lr = batch.lr + 0.01 * torch.randn(batch.lr.shape).to(batch.lr.device)
        losses = super().train_step(batch, ctx)
        if self.config.step_sleep:
            time.sleep(self.config.step_sleep)
        if ctx.iteration == self.config.iters - 1:
            _dump_final_weights(self.nets["generator"])
        if ctx.iteration == self.config.nan_at:
            losses["fake_term"] = torch.tensor(float("nan"))
        return losses


class TinyOtherRecipe(TinyRecipe):
    """Another recipe over the same generator (checkpoints of one must not resume the other)."""

    description = "the tiny recipe under another name"


@hookimpl
def register_generators(register: Register) -> None:
    register("tiny", TinyGenerator)


@hookimpl
def register_recipes(register: Register) -> None:
    register("tiny", TinyRecipe)
    register("tiny-other", TinyOtherRecipe)


# ---- helpers shared by the trainer tests ----------------------------------------------------


def use_tiny_plugin(monkeypatch) -> None:  # noqa: ANN001 - pytest's MonkeyPatch
    """Make ``srkit train tiny`` available in this process (and in subprocesses)."""
    monkeypatch.setenv("SRKIT_PLUGIN_MODULES", __name__)
    # forget loaded plugins for this test; the previous registry comes back afterwards
    monkeypatch.setattr("srkit.plugins._registry", None)
    monkeypatch.setattr("srkit.plugins._manager", None)


def make_image_folder(folder, count: int = 2, size: tuple[int, int] = (40, 44),  # noqa: ANN001
                      seed: int = 0):  # noqa: ANN201
    """A folder of ``count`` small random PNGs (height, width = ``size``)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = (rng.random((*size, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).save(folder / f"img{i}.png")
    return folder


def tiny_args(out, val, *extra: str, iters: int = 6) -> list[str]:  # noqa: ANN001
    """``srkit train tiny`` arguments for a run of a few seconds on the CPU."""
    return ["train", "tiny", "--out", str(out), "--val", str(val), "--scale", "2",
            "--iters", str(iters), "--batch-size", "2", "--patch-size", "16", "--workers", "0",
            "--device", "cpu", "--log-every", "2", "--save-every", "3", "--val-every", "3",
            *extra]
