"""The Real-ESRGAN plugin: RRDBNet (ESRGAN's generator), the U-Net discriminator with spectral
normalisation, the multi-layer VGG19 perceptual loss, the ``realesrnet`` and ``realesrgan``
recipes (Wang et al., ICCV workshops 2021) and converters for the official release files.

Only hook implementations live here; each imports its module when called, so loading the
plugin costs nothing until something it provides is used.
"""

from __future__ import annotations

from srkit.api import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_generators(register: Register) -> None:
    from srkit_realesrgan.arch import RRDBNet

    register("rrdbnet", RRDBNet)


@hookimpl
def register_discriminators(register: Register) -> None:
    from srkit_realesrgan.arch import UNetDiscriminatorSN

    register("unet-sn", UNetDiscriminatorSN)


@hookimpl
def register_losses(register: Register) -> None:
    from srkit_realesrgan.losses import PerceptualLoss

    register("perceptual", PerceptualLoss)


@hookimpl
def register_recipes(register: Register) -> None:
    from srkit_realesrgan.recipe import RealESRGANRecipe, RealESRNetRecipe

    register("realesrnet", RealESRNetRecipe)
    register("realesrgan", RealESRGANRecipe)


@hookimpl
def register_converters(register: Register) -> None:
    from srkit_realesrgan.convert import RRDBNET_CONVERTER, UNET_CONVERTER

    register("rrdbnet", RRDBNET_CONVERTER)
    register("unet-sn", UNET_CONVERTER)
