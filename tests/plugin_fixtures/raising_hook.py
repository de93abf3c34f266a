"""A plugin that registers one generator, then raises inside another hook."""

from torch import nn

from srkit.hookspecs import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_generators(register: Register) -> None:
    register("half-registered", nn.Identity)


@hookimpl
def register_losses(register: Register) -> None:
    raise RuntimeError("the loss table is corrupt")
