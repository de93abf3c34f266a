"""``--generator ARCH``: GAN recipes train any registered generator, not only their paper's.

A user who already runs a model (an RRDBNet release, any architecture spandrel reads) fine-tunes
it with perceptual and adversarial losses by passing its file with ``--init``: the file then
decides the architecture and its arguments, and ``--generator`` defaults to what the file holds.
Without ``--init`` the recipe's own generator is built from its options, any other from the scale
and the arguments given as ``--generator NAME:key=value,...`` (typed like the factory's defaults).
The file's arguments are kept in the config (``generator_kwargs``, JSON), so a resumed run, which
takes no ``--init``, rebuilds the same network from its checkpoint's config. Used by the ``srgan``
recipe and by other plugins' GAN recipes (``realesrgan``).
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from torch import nn

from srkit.api import Derived, SrkitError, build_generator, lookup, read_model_file

_TRUE = ("true", "yes", "on", "1")


def init_file_generator(path: str) -> tuple[str, dict[str, Any]]:
    """``(arch, kwargs)`` of the generator in a model file: srkit weights, or a foreign checkpoint
    an installed converter reads (converted in memory)."""
    info = read_model_file(path)[1]
    if info["kind"] != "generator":
        raise SrkitError(f"{path}: holds a {info['kind']} ({info['arch']}), not a generator")
    return info["arch"], dict(info["kwargs"])


def _keyword_defaults(factory: Any) -> dict[str, Any] | None:
    """The factory's keyword arguments and their defaults; None when it takes ``**kwargs``."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name: p.default for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _typed(value: str, default: Any) -> Any:
    if isinstance(default, bool):
        return value.lower() in _TRUE
    if isinstance(default, (int, float)):
        return type(default)(value)
    return value


def parse_generator(text: str) -> tuple[str, dict[str, Any]]:
    """``"rrdbnet:channels=32,blocks=4"`` -> ``("rrdbnet", {"channels": 32, "blocks": 4})``, each value
    converted to the type of the factory argument's default; a one-line error otherwise."""
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    options = _keyword_defaults(lookup("generator", name))
    kwargs: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals or (options is not None and key not in options):
            accepted = ", ".join(options or ()) or "none"
            raise SrkitError(f"--generator {text}: {item!r} is not KEY=VALUE of its options ({accepted})")
        default = (options or {}).get(key)
        try:
            kwargs[key] = _typed(value, default)
        except ValueError:
            raise SrkitError(f"--generator {text}: {key} must be {type(default).__name__}, "
                             f"got {value!r}") from None
    return name, kwargs


def _readable_init(config: Any) -> tuple[str, dict[str, Any]] | None:
    """The ``--init`` file's generator, or None without one or when it cannot be read: a config
    is built before any file is opened for real, and the recipe then names the problem."""
    if not config.init:
        return None
    try:
        return init_file_generator(config.init)
    except SrkitError:
        return None


def generator_option_default(own_arch: str) -> Derived:
    """The default of a recipe's ``generator`` option: the ``--init`` file's architecture, else
    ``own_arch``."""
    def compute(config: Any) -> str:
        found = _readable_init(config)
        return found[0] if found else own_arch

    return Derived(compute, f"the --init file's architecture, else {own_arch}")


def generator_kwargs_option_default() -> Derived:
    """The default of a recipe's ``generator_kwargs`` option: the ``--init`` file's arguments as
    JSON, else empty (the recipe's options and ``--generator NAME:key=value`` decide)."""
    def compute(config: Any) -> str:
        found = _readable_init(config)
        return json.dumps(found[1], sort_keys=True) if found else ""

    return Derived(compute, "the --init file's, else none")


def build_chosen_generator(config: Any, own_arch: str, own_kwargs: dict[str, Any]) -> nn.Module:
    """The generator a GAN recipe trains: built with ``generator_kwargs`` (the ``--init`` file's
    arguments) when set, else ``own_kwargs`` for the recipe's own ``own_arch``, else
    ``--generator`` at ``--scale``.

    ``config`` has ``generator`` (``NAME`` or ``NAME:key=value,...``), ``generator_kwargs``,
    ``init`` and ``scale``; the weights themselves are loaded by the trainer afterwards. A
    ``--generator`` that is not the file's architecture, or gives arguments the file already
    fixes, is a one-line error.
    """
    name, given = parse_generator(config.generator)
    if config.init:
        arch = init_file_generator(config.init)[0]
        if arch != name or given:
            raise SrkitError(f"{config.init}: holds a {arch!r} generator, not --generator "
                             f"{config.generator}; leave out --generator to train the file's")
    if config.generator_kwargs:
        try:
            kwargs = json.loads(config.generator_kwargs)
        except ValueError:
            kwargs = None
        if not isinstance(kwargs, dict) or given:
            raise SrkitError(f"--generator-kwargs {config.generator_kwargs!r}: expected a JSON object "
                             "(and no arguments in --generator)")
        return build_generator(name, **kwargs)
    if name == own_arch:
        return build_generator(own_arch, **{**own_kwargs, **given})
    return build_generator(name, **{"scale": config.scale, **given})
