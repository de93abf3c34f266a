"""Building registered networks so that they remember how they were built."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from torch import nn

from srkit.errors import SrkitError
from srkit.plugins import get_registry, lookup


def build_generator(arch: str, **kwargs: Any) -> nn.Module:
    """Build the registered generator ``arch`` and record ``arch`` and its arguments on the module.

    The recorded arguments are the *effective* ones: the factory's defaults merged with
    ``kwargs`` (see :func:`effective_kwargs`), so a file saved today rebuilds the same module
    after a later release changes a default. ``kwargs`` must be JSON-serialisable;
    :func:`srkit.weights.files.save_weights` stores them so :func:`srkit.weights.files.load_model` can
    rebuild the module from the file alone.
    """
    return _build("generator", arch, kwargs)


def parameter_free_generators() -> list[str]:
    """Registered generators built from the scale alone, so they run without a weights file.

    A generator declares it with ``parameter_free = True`` on its factory (the core's bicubic).
    """
    registry = get_registry()
    return [name for name in registry.names("generator")
            if getattr(registry.get("generator", name), "parameter_free", False) is True]


def build_discriminator(arch: str, **kwargs: Any) -> nn.Module:
    return _build("discriminator", arch, kwargs)


def _build(kind: str, arch: str, kwargs: dict[str, Any]) -> nn.Module:
    factory = lookup(kind, arch)
    try:
        module = factory(**kwargs)
    except TypeError as exc:
        raise SrkitError(f"{kind} {arch!r} cannot be built with {kwargs}: {exc}") from None
    module.srkit_arch = arch
    module.srkit_kwargs = effective_kwargs(factory, kwargs, module)
    return module


def effective_kwargs(factory: Callable[..., Any], kwargs: dict[str, Any],
                     module: nn.Module | None = None) -> dict[str, Any]:
    """``kwargs`` plus every keyword default of ``factory``'s signature that they leave out.

    A ``None`` default the factory resolves itself (DRN's sizes per scale) is recorded as the
    built ``module``'s attribute of the same name when it has one. Defaults that would not
    survive a JSON round trip unchanged (tuples, objects) are left out: they cannot be stored,
    and rebuilding from a changed value would be wrong.
    """
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C factory without a signature
        return dict(kwargs)
    effective = {}
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            continue
        if p.name in kwargs:
            effective[p.name] = kwargs[p.name]
        elif p.default is not p.empty and _survives_json(p.default):
            effective[p.name] = p.default
        if effective.get(p.name, 0) is None and _survives_json(getattr(module, p.name, None)):
            effective[p.name] = getattr(module, p.name)
    # names the signature does not list reach a ``**kwargs`` factory as given
    return {**effective, **{k: v for k, v in kwargs.items() if k not in effective}}


def _survives_json(value: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(value)) == value)
    except (TypeError, ValueError):
        return False


def describe(module: nn.Module) -> tuple[str, dict[str, Any]]:
    """``(arch, kwargs)`` of a module built by :func:`build_generator` (unwrapping DDP/compile)."""
    recorded = vars(unwrap(module))
    try:
        return recorded["srkit_arch"], recorded["srkit_kwargs"]
    except KeyError:
        raise SrkitError(
            f"{type(module).__name__} was not built with srkit.build_generator; its architecture is unknown"
        ) from None


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = getattr(module, "module", None) or getattr(module, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return module
        module = inner


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
