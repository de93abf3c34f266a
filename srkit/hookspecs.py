"""The whole plugin contract: every hook a plugin may implement.

A plugin is a module (found through the ``srkit`` entry-point group) that defines
functions decorated with :data:`hookimpl`. Each hook receives a ``register``
callback instead of returning values, so the core keeps control of validation
and error messages.
"""

from __future__ import annotations

from typing import Any, Callable

import click
import pluggy

hookspec = pluggy.HookspecMarker("srkit")
hookimpl = pluggy.HookimplMarker("srkit")

Register = Callable[..., Any]


@hookspec
def register_generators(register: Register) -> None:
    """Register generator factories: ``register(name, factory)``.

    ``factory(**kwargs)`` returns an ``nn.Module`` implementing
    :class:`srkit.interfaces.Generator` (it takes ``scale`` as a keyword).
    """


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminator factories: ``register(name, factory)``."""


@hookspec
def register_losses(register: Register) -> None:
    """Register loss factories: ``register(name, factory)``; ``factory(**options)`` is an ``nn.Module``."""


@hookspec
def register_degradations(register: Register) -> None:
    """Register degradation factories: ``register(name, factory)``; see :class:`srkit.interfaces.Degradation`."""


@hookspec
def register_recipes(register: Register) -> None:
    """Register training recipes: ``register(name, recipe_class)``; see :class:`srkit.interfaces.Recipe`."""


@hookspec
def register_converters(register: Register) -> None:
    """Register foreign-checkpoint converters: ``register(arch_name, converter)``.

    ``converter(state_dict, scale, **options)`` returns ``(model_kwargs, srkit_state_dict)``.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``srkit`` command group: ``cli.add_command(my_command)``."""
