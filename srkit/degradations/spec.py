"""Degradation specs: ``NAME`` or ``NAME:key=value,...``, as ``--degradation`` takes them.

The keys are the factory's keyword arguments; each value is converted to the type of that
argument's default (bool, int, float or str), so ``blur-noise-jpeg:sigma=2,noise=10,q=50``
builds ``factory(sigma=2.0, noise=10.0, q=50)``. Unknown keys and unconvertible values are
refused with one line naming the degradation and the key.
"""

from __future__ import annotations

import inspect
import typing
from typing import TYPE_CHECKING, Any

from srkit.errors import SrkitError

if TYPE_CHECKING:
    from srkit.interfaces import Degradation

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"name:a=1,b=x"`` -> ``("name", {"a": "1", "b": "x"})`` (values still strings)."""
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if not name:
        raise SrkitError(f"degradation {spec!r}: no name before ':'")
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or not key:
            raise SrkitError(f"degradation {spec!r}: {item!r} is not key=value")
        if key in params:
            raise SrkitError(f"degradation {spec!r}: {key} is given twice")
        params[key] = value.strip()
    return name, params


def _convert(value: Any, kind: type | None, where: str) -> Any:
    if not isinstance(value, str) or kind in (None, str):
        return value
    try:
        if kind is bool:
            if value.lower() not in _TRUE + _FALSE:
                raise ValueError
            return value.lower() in _TRUE
        return kind(value)
    except ValueError:
        raise SrkitError(f"{where} must be {kind.__name__}, got {value!r}") from None


def _scalar_kind(default: Any, hint: Any) -> type | None:
    """bool, int, float or str: the default's type, else the annotation's (``X | None`` -> X)."""
    if isinstance(default, (bool, int, float, str)):
        return type(default)
    kinds = [k for k in (typing.get_args(hint) or (hint,)) if k is not type(None)]
    return kinds[0] if len(kinds) == 1 and kinds[0] in (bool, int, float, str) else None


def factory_options(factory: Any) -> dict[str, type | None] | None:
    """Keyword options of a factory and their scalar types (None: passed as given);
    None when it takes ``**kwargs``."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    try:
        hints = typing.get_type_hints(factory.__init__ if inspect.isclass(factory) else factory)
    except Exception:  # unresolvable annotations: fall back to the defaults' types
        hints = {}
    return {p.name: _scalar_kind(p.default, hints.get(p.name)) for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def build_degradation(spec: str, **overrides: Any) -> Degradation:
    """The registered degradation ``spec`` names, built with its parameters (and ``overrides``).

    ``overrides`` are keyword values set another way (e.g. ``srkit degrade --sigma``); a key
    given in both is refused.
    """
    from srkit.plugins import lookup

    name, params = parse_spec(spec)
    factory = lookup("degradation", name)
    for key in overrides:
        if key in params:
            raise SrkitError(f"degradation {spec!r}: {key} is given both in the spec and as an option")
    options = factory_options(factory)
    values: dict[str, Any] = {}
    for key, value in {**params, **overrides}.items():
        if options is not None and key not in options:
            accepted = ", ".join(options) or "none"
            raise SrkitError(f"degradation {name!r} has no {key} option (options: {accepted})")
        kind = options.get(key) if options else None
        values[key] = _convert(value, kind, f"degradation {name!r}: {key}")
    try:
        return factory(**values)
    except (TypeError, ValueError) as exc:
        raise SrkitError(f"degradation {spec!r}: {exc}") from None
