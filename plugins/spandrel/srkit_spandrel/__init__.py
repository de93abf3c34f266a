"""srkit plugin: the architectures spandrel reads (ESRGAN/Real-ESRGAN, SwinIR, HAT, SPAN, OmniSR...).

spandrel (chaiNNer-org/spandrel, MIT) recognises about 40 super-resolution architectures from a
state dict and builds them. This plugin registers one generator (``spandrel``, any model spandrel
reads), a fallback converter (asked only when no srkit converter knows the layout, so SRResNet
and DRN files use srkit's own implementations) and a pixel-loss recipe to fine-tune such a model
with ``--init FILE``. spandrel is an optional extra (``pip install 'srkit[spandrel]'``): without
it the plugin still loads and each use says what to install.
"""

from __future__ import annotations

from srkit.api import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_generators(register: Register) -> None:
    from srkit_spandrel.arch import SpandrelGenerator

    register("spandrel", SpandrelGenerator)


@hookimpl
def register_recipes(register: Register) -> None:
    from srkit_spandrel.recipe import SpandrelRecipe

    register("spandrel", SpandrelRecipe)


@hookimpl
def register_converters(register: Register) -> None:
    from srkit_spandrel.convert import SPANDREL_CONVERTER

    register("spandrel", SPANDREL_CONVERTER)
