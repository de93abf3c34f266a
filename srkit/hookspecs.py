"""The whole plugin contract: every hook a plugin may implement.

A plugin is a module (found through the ``srkit`` entry-point group) that defines functions
decorated with :data:`hookimpl`, named exactly like the specifications below, and declares
``SRKIT_PLUGIN_API = 4`` (:data:`srkit.api.API_VERSION`). Each ``register_*`` hook receives
a ``register(name, obj)`` callback instead of returning values, so the core validates what is
registered and words the errors. Names are lower-case (``[a-z0-9][a-z0-9._-]*``) and unique per
kind across all plugins. Every hook of a plugin runs once, when the registry is first used.
"""

from __future__ import annotations

from typing import Protocol

import click
import pluggy

hookspec = pluggy.HookspecMarker("srkit")
hookimpl = pluggy.HookimplMarker("srkit")


class Register(Protocol):
    """The callback a ``register_*`` hook receives."""

    def __call__(self, name: str, obj: object) -> None: ...


@hookspec
def register_generators(register: Register) -> None:
    """Register generator factories: ``register(name, factory)``.

    ``factory(scale=..., **kwargs)`` returns an ``nn.Module`` implementing
    :class:`srkit.interfaces.Generator`: LR (N,3,h,w) RGB in [0,1] -> SR (N,3,h*s,w*s), with an
    int attribute ``scale``. ``srkit train`` and ``srkit bench --models NAME`` build it through
    :func:`srkit.nn.models.build_generator`, so kwargs must be JSON-serialisable.
    """


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminator factories: ``register(name, factory)``; ``factory(**kwargs)`` is an
    ``nn.Module`` mapping (N,3,H,W) images in [0,1] to one real-vs-fake logit per image."""


@hookspec
def register_losses(register: Register) -> None:
    """Register loss factories: ``register(name, factory)``; ``factory()`` is an ``nn.Module``
    called as ``loss(sr, hr)`` on (N,3,H,W) batches in [0,1], returning a scalar tensor (the one
    kind of loss: ``--loss NAME``, :func:`srkit.api.build_loss`). A loss of another shape (on
    discriminator logits) is a plain class of the recipe that uses it, not registered; one
    registered anyway is refused in one line when a recipe builds it."""


@hookspec
def register_degradations(register: Register) -> None:
    """Register degradation factories: ``register(name, factory)``; ``factory(**params)`` returns a
    :class:`srkit.interfaces.Degradation` (``srkit train --degradation NAME[:key=value,...]``: the
    keys are the factory's keyword arguments, typed like their defaults)."""


@hookspec
def register_recipes(register: Register) -> None:
    """Register training recipes: ``register(name, recipe_class)``, a non-abstract subclass of
    :class:`srkit.interfaces.Recipe` with a ``config_class`` (``srkit train NAME``)."""


@hookspec
def register_converters(register: Register) -> None:
    """Register foreign-checkpoint converters: ``register(name, converter)`` (``srkit convert``).

    ``converter`` is a :class:`srkit.weights.convert.Converter` or a plain ``convert`` function:
    ``convert(state_dict, *, scale, extra) -> srkit.weights.convert.Converted``. ``state_dict`` is the
    foreign checkpoint's tensors (already un-nested, ``module.`` prefixes stripped), ``scale`` the
    scale read by ``detect`` or given with ``--scale`` (None when neither says), ``extra`` the
    files given as the converter's declared ``inputs`` (``--NAME FILE``). Raise ``SrkitError``
    naming the first missing or unexpected key when the checkpoint is not the architecture claimed.

    Optional, as :class:`~srkit.weights.convert.Converter` fields or attributes of the function:
    ``detect(state_dict)`` (the scale when the tensors are in this layout, ``True`` when the layout
    records no scale, else ``None``) lets ``srkit convert`` work without ``--arch``; ``inputs`` (a
    tuple of :class:`~srkit.weights.convert.ConverterInput`) declares further files; ``export(state_dict,
    kwargs, extras)`` writes srkit weights back in the foreign layout (``srkit export --format
    official``); ``layout_keys()`` names a typical checkpoint's keys for "closest layout" hints;
    ``fallback=True`` (catch-all libraries) is asked only when no other converter matches;
    ``missing()`` says what to install when an optional dependency is absent.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``srkit`` command line: ``cli.add_command(my_command)``.

    ``cli`` starts empty (it is merged into ``srkit`` afterwards); a command named like a
    built-in one is not added.
    """
