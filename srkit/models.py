"""Building registered networks so that they remember how they were built."""

from __future__ import annotations

from typing import Any

from torch import nn

from srkit.errors import SrkitError
from srkit.plugins import lookup


def build_generator(arch: str, **kwargs: Any) -> nn.Module:
    """Build the registered generator ``arch`` and record ``arch`` and ``kwargs`` on the module.

    ``kwargs`` must be JSON-serialisable; :func:`srkit.weights.save_weights` stores them so
    :func:`srkit.weights.load_model` can rebuild the same module from the file alone.
    """
    return _build("generator", arch, kwargs)


def build_discriminator(arch: str, **kwargs: Any) -> nn.Module:
    return _build("discriminator", arch, kwargs)


def _build(kind: str, arch: str, kwargs: dict[str, Any]) -> nn.Module:
    factory = lookup(kind, arch)
    try:
        module = factory(**kwargs)
    except TypeError as exc:
        raise SrkitError(f"{kind} {arch!r} cannot be built with {kwargs}: {exc}") from None
    module.srkit_arch = arch
    module.srkit_kwargs = dict(kwargs)
    return module


def describe(module: nn.Module) -> tuple[str, dict[str, Any]]:
    """``(arch, kwargs)`` of a module built by :func:`build_generator` (unwrapping DDP/compile)."""
    module = unwrap(module)
    try:
        return module.srkit_arch, module.srkit_kwargs
    except AttributeError:
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
