"""A plugin whose hook name has a typo (singular ``register_generator``)."""

from torch import nn

from srkit.hookspecs import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_generator(register: Register) -> None:
    register("never-seen", nn.Identity)
