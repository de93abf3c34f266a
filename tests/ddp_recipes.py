"""The ``drn`` and ``srgan`` recipes, each process saving its final nets (for the DDP tests).

Loaded with ``SRKIT_PLUGIN_MODULES=tests.ddp_recipes`` next to the built-in plugins; the
recipes are ``drn-dump`` and ``srgan-dump`` and write ``rank<R>.safetensors`` into
``DDP_DUMP_DIR`` after their last step.
"""

from __future__ import annotations

import os

from safetensors.torch import save_file
from torch import Tensor

from srkit.hookspecs import Register, hookimpl
from srkit.interfaces import Batch, Recipe, StepContext
from srkit.nn.models import unwrap
from srkit_drn.recipe import DRNRecipe
from srkit_srgan.recipe import SRGANRecipe

SRKIT_PLUGIN_API = 4


def _dump_nets(recipe: Recipe) -> None:
    tensors = {f"{name}.{key}": value.detach().cpu().contiguous()
               for name, net in recipe.nets.items()
               for key, value in unwrap(net).state_dict().items()}
    rank = os.environ.get("RANK", "0")
    save_file(tensors, os.path.join(os.environ["DDP_DUMP_DIR"], f"rank{rank}.safetensors"))


class _DumpAfterLastStep:
    """Mixed in before a recipe class: saves this process's nets after the last step."""

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        losses = super().train_step(batch, ctx)
        if ctx.iteration == self.config.iters - 1:
            _dump_nets(self)
        return losses


class DumpingDRN(_DumpAfterLastStep, DRNRecipe):
    description = "drn, saving every process's nets after the last step"


class DumpingSRGAN(_DumpAfterLastStep, SRGANRecipe):
    description = "srgan, saving every process's nets after the last step"


@hookimpl
def register_recipes(register: Register) -> None:
    register("drn-dump", DumpingDRN)
    register("srgan-dump", DumpingSRGAN)
