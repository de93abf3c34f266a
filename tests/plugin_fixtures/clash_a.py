"""One of two plugins that register the same generator name."""

from torch import nn

from srkit.hookspecs import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_generators(register: Register) -> None:
    register("clash", nn.Identity)
    register("only-in-a", nn.Identity)
