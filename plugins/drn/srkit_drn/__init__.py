"""srkit plugin: DRN, "Closed-loop Matters: Dual Regression Networks" (Guo et al., CVPR 2020).

Registers the generators ``drn-s`` / ``drn-l``, the recipe ``drn`` (paired and LR-only
semi-supervised dual regression training) and converters ``drn-s`` / ``drn-l`` for the official
release. Heavy modules are imported inside the hooks so ``srkit --help`` stays fast.
"""

from __future__ import annotations

from srkit.api import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_generators(register: Register) -> None:
    from srkit_drn.arch import drn_l, drn_s

    register("drn-s", drn_s)
    register("drn-l", drn_l)


@hookimpl
def register_recipes(register: Register) -> None:
    from srkit_drn.recipe import DRNRecipe

    register("drn", DRNRecipe)


@hookimpl
def register_converters(register: Register) -> None:
    from srkit_drn.convert import DRN_L_CONVERTER, DRN_S_CONVERTER

    register("drn-s", DRN_S_CONVERTER)
    register("drn-l", DRN_L_CONVERTER)
