"""The SRGAN plugin: SRResNet, its discriminator, VGG and adversarial losses, two recipes and
converters for Lornatang/SRGAN-PyTorch checkpoints (Ledig et al., CVPR 2017).

Only hook implementations live here; each imports its module when called, so loading the
plugin costs nothing until something it provides is used.
"""

from __future__ import annotations

from srkit.api import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_generators(register: Register) -> None:
    from srkit_srgan.arch import SRResNet

    register("srresnet", SRResNet)


@hookimpl
def register_discriminators(register: Register) -> None:
    from srkit_srgan.arch import SRGANDiscriminator

    register("srgan-d", SRGANDiscriminator)


@hookimpl
def register_losses(register: Register) -> None:
    from srkit_srgan.losses import VGGLoss

    register("vgg", VGGLoss)  # AdversarialLoss works on logits, not (sr, hr): the recipe's own class


@hookimpl
def register_recipes(register: Register) -> None:
    from srkit_srgan.recipe import SRGANRecipe, SRResNetRecipe

    register("srresnet", SRResNetRecipe)
    register("srgan", SRGANRecipe)


@hookimpl
def register_converters(register: Register) -> None:
    from srkit_srgan.convert import DISCRIMINATOR_CONVERTER, SRRESNET_CONVERTER

    register("srresnet", SRRESNET_CONVERTER)
    register("srgan-d", DISCRIMINATOR_CONVERTER)
