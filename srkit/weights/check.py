"""Checks that a weights file's metadata describes its tensors, before any real model is built.

A weights file is untrusted input: its ``kwargs`` could ask a factory for a network of any size.
So the kwargs are first checked against the factory's signature (types, sane ranges), then the
network is built on the ``meta`` device (no memory is allocated) while counting what it
registers, and its state-dict keys and shapes are compared with the stored tensors. Only a file
that passes is built for real.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

from srkit.errors import SrkitError

#: the largest integer constructor argument a weights file may hold (widths, depths, scales)
MAX_INT_ARGUMENT = 1 << 16
#: how many modules/parameters/buffers a skeleton may register per stored tensor (plus slack)
_REGISTRATIONS_PER_TENSOR = 4
_REGISTRATION_SLACK = 64
#: numbers a skeleton may hold beyond twice the stored ones (buffers a state dict leaves out)
_VALUE_SLACK = 1 << 20


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: check ranges only
        return {}


def _allowed_types(hint: Any) -> tuple[type, ...] | None:
    """The JSON-representable types an annotation admits, or None when it says nothing usable."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        allowed: list[type] = []
        for arg in typing.get_args(hint):
            kinds = _allowed_types(arg)
            if kinds is None:
                return None
            allowed.extend(kinds)
        return tuple(allowed)
    if hint is type(None) or hint is None:
        return (type(None),)
    if hint is float:
        return (int, float)
    if hint in (int, bool, str):
        return (hint,)
    if origin in (list, tuple) or hint in (list, tuple):
        return (list,)
    if origin in (dict, Mapping) or hint is dict:
        return (dict,)
    return None


def _type_name(kinds: tuple[type, ...]) -> str:
    names = ["null" if k is type(None) else k.__name__ for k in kinds if not (k is int and float in kinds)]
    return " or ".join(dict.fromkeys(names))


def _check_value(name: str, value: Any, source: str, objects: bool = False) -> None:
    """Numbers finite and in range, recursively; a JSON object only where the factory's annotation
    asks for a mapping (``objects``), its values checked the same way."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise SrkitError(f"{source}: constructor argument {name} = {value} is not finite")
    if isinstance(value, int) and not 0 <= value <= MAX_INT_ARGUMENT:
        raise SrkitError(f"{source}: constructor argument {name} = {value} is out of range "
                         f"(0..{MAX_INT_ARGUMENT})")
    if isinstance(value, list):
        for item in value:
            _check_value(name, item, source, objects)
    if isinstance(value, dict) and objects:
        for key, item in value.items():
            _check_value(f"{name}.{key}", item, source, objects)
    elif isinstance(value, dict):
        raise SrkitError(f"{source}: constructor argument {name} is a JSON object; only numbers, "
                         "strings, booleans and lists are accepted")


def check_factory_kwargs(factory: Callable[..., Any], kwargs: Mapping[str, Any], source: str) -> None:
    """Each kwarg is a parameter of ``factory``, of its annotated type, and of a sane size."""
    parameters: Mapping[str, inspect.Parameter]
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        parameters = {}
    open_ended = not parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    hints = _hints(factory)
    for name, value in kwargs.items():
        if name not in parameters and not open_ended:
            known = ", ".join(p for p in parameters if p != "self")
            raise SrkitError(f"{source}: unknown constructor argument {name!r} (accepted: {known})")
        kinds = _allowed_types(hints.get(name)) if name in hints else None
        if kinds is not None and not (isinstance(value, kinds)
                                      and not (isinstance(value, bool) and bool not in kinds)):
            raise SrkitError(f"{source}: constructor argument {name} must be {_type_name(kinds)}, "
                             f"got {value!r}")
        _check_value(name, value, source, objects=kinds is not None and dict in kinds)
    scale = kwargs.get("scale")
    if isinstance(scale, int) and not isinstance(scale, bool) and scale < 1:
        raise SrkitError(f"{source}: constructor argument scale = {scale} must be at least 1")


class _TooLarge(Exception):
    """Raised from a registration hook: the skeleton grew past what the file can hold."""


@contextlib.contextmanager
def _registration_limit(limit: int, values: int) -> Iterator[None]:
    """Abort a model build that registers more than ``limit`` modules, parameters or buffers, or
    tensors of more than ``values`` numbers in all."""
    count, numbers = [0], [0]

    def hook(*args: Any) -> None:
        count[0] += 1
        tensor = args[-1]
        if isinstance(tensor, torch.Tensor):
            numbers[0] += tensor.numel()
        if count[0] > limit or numbers[0] > values:
            raise _TooLarge

    from torch.nn.modules import module as registration

    handles = [registration.register_module_module_registration_hook(hook),
               registration.register_module_parameter_registration_hook(hook),
               registration.register_module_buffer_registration_hook(hook)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def shapes_of(tensors: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a state dict: what :func:`check_skeleton` compares."""
    return {key: tuple(tensor.shape) for key, tensor in tensors.items()}


def shape_mismatch(expected: Mapping[str, torch.Tensor], found: Mapping[str, tuple[int, ...]]
                   ) -> str | None:
    """The first key missing from, unexpected in or wrongly shaped in ``found``, or None."""
    missing = [k for k in expected if k not in found]
    if missing:
        return f"missing tensor {missing[0]!r} ({len(missing)} missing)"
    unexpected = [k for k in found if k not in expected]
    if unexpected:
        return f"unexpected tensor {unexpected[0]!r} ({len(unexpected)} unexpected)"
    for key, tensor in expected.items():
        if tuple(found[key]) != tuple(tensor.shape):
            return f"{key!r} has shape {tuple(found[key])}, the metadata implies {tuple(tensor.shape)}"
    return None


def check_skeleton(build: Callable[..., nn.Module], factory: Callable[..., Any], arch: str,
                   kwargs: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], source: str
                   ) -> nn.Module:
    """The skeleton of ``build(arch, **kwargs)`` (on the meta device where the constructor allows),
    once its keys and shapes are found to be ``shapes``, the stored tensors'; a one-line error if not.

    Nothing is allocated for a real network, so every file of a plan can be checked up front.
    """
    check_factory_kwargs(factory, kwargs, source)
    limit = _REGISTRATIONS_PER_TENSOR * len(shapes) + _REGISTRATION_SLACK
    values = 2 * sum(math.prod(shape) for shape in shapes.values()) + _VALUE_SLACK
    described = f"{arch} {dict(kwargs)}"
    try:
        # should the constructor need the CPU, the limits still stop a skeleton larger than the file
        with _registration_limit(limit, values):
            skeleton = build_on_meta(lambda: build(arch, **kwargs))
    except _TooLarge:
        raise SrkitError(f"{source}: the metadata describes a larger network ({described}) than the "
                         f"{len(shapes)} stored tensors") from None
    except SrkitError as exc:
        raise SrkitError(f"{source}: {exc}") from None
    except Exception as exc:  # a factory rejecting its arguments in its own way
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrkitError(f"{source}: {described} cannot be built ({reason})") from None
    problem = shape_mismatch(skeleton.state_dict(), shapes)
    if problem is not None:
        raise SrkitError(f"{source}: the tensors do not match the metadata ({described}): {problem}")
    return skeleton


def build_checked(build: Callable[..., nn.Module], factory: Callable[..., Any], arch: str,
                  kwargs: Mapping[str, Any], state: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    """``build(arch, **kwargs)`` for real, only once a meta-device skeleton matches ``state``."""
    check_skeleton(build, factory, arch, kwargs, shapes_of(state), source)
    return build(arch, **kwargs)


def build_on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` on the meta device (no memory), or on the CPU for a constructor that reads
    values (``Tensor.item()``), which the meta device cannot run."""
    try:
        with torch.device("meta"):
            return build()
    except RuntimeError as exc:
        if "meta" not in str(exc):
            raise
        return build()


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], message: str) -> None:
    """Load ``state`` into ``module`` with every key and shape matching, or a one-line error.

    A tensor the module holds as floating point must be stored as floating point: integer or
    bool values would be cast silently and give black or white images.
    """
    own = module.state_dict()
    for key, tensor in state.items():
        if key in own and own[key].is_floating_point() and not tensor.is_floating_point():
            raise SrkitError(f"{message}: tensor {key!r} is stored as {tensor.dtype}, not as "
                             "floating point")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:2])
        raise SrkitError(f"{message}: {detail[:300]}") from None
