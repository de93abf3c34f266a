"""The one place a training config is validated, for every recipe, before any work starts.

Three layers, in order: every field against what its ``option(...)`` declares (choices; bounds
and finiteness of numbers), rules of the shared options that involve several fields, then the recipe's own
:meth:`srkit.interfaces.Recipe.validate`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from srkit.errors import SrkitError
from srkit.training.config import DEFAULT_MAX, TrainConfig

if TYPE_CHECKING:
    from srkit.interfaces import Recipe

_BOUND_KEYS = ("min", "max", "min_exclusive", "max_exclusive")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _bounds(config_class: type, name: str) -> dict[str, Any]:
    """The bounds declared for field ``name``, inherited when an override declares none."""
    for klass in config_class.__mro__:
        declared = klass.__dict__.get("__dataclass_fields__", {}).get(name)
        if declared is not None and any(k in declared.metadata for k in _BOUND_KEYS):
            return {k: declared.metadata[k] for k in _BOUND_KEYS if k in declared.metadata}
    return {}


def _interval(bounds: dict[str, Any]) -> str:
    low, high = bounds.get("min"), bounds.get("max")
    assert low is not None or high is not None, "called for a bounded number only"
    if high is None:
        return f"{'>' if bounds.get('min_exclusive') else '>='} {_shown(low)}"
    if low is None:
        return f"{'<' if bounds.get('max_exclusive') else '<='} {_shown(high)}"
    left = "(" if bounds.get("min_exclusive") else "["
    right = ")" if bounds.get("max_exclusive") else "]"
    return f"in {left}{_shown(low)}, {_shown(high)}{right}"


def check_fields(config: TrainConfig) -> None:
    """Every field is one of its ``choices``; every number is finite and inside its declared bounds."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        choices = field.metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise SrkitError(f"{_flag(field.name)} must be one of {', '.join(choices)}, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise SrkitError(f"{_flag(field.name)} must be a finite number, got {value}")
        declared = _bounds(type(config), field.name)
        bounds = {"max": DEFAULT_MAX, **declared}
        low, high = bounds.get("min"), bounds.get("max")
        too_low = low is not None and (value <= low if bounds.get("min_exclusive") else value < low)
        too_high = high is not None and (value >= high if bounds.get("max_exclusive") else value > high)
        if too_low or too_high:
            shown = bounds if too_high or "max" in declared else declared
            raise SrkitError(f"{_flag(field.name)} must be {_interval(shown)}, got {_shown(value)}")


def _shown(value: Any) -> str:
    """A number for an error line: ``1e+300``, ``99999999999999999999`` or ``a 400-digit number``."""
    if isinstance(value, float) or len(str(abs(value))) <= 20:
        return f"{value:g}" if isinstance(value, float) else str(value)
    return f"a {len(str(abs(value)))}-digit number"


def check_shared_rules(config: TrainConfig) -> None:
    """Rules of the shared options that no single field can judge alone."""
    if config.patch_size % config.scale:
        raise SrkitError(
            f"--patch-size {config.patch_size} is not a multiple of --scale {config.scale}")
    if config.resume and config.init:
        raise SrkitError(
            "--resume and --init conflict: a resumed run continues from its checkpoint")
    if config.data_lr is not None and config.data is None:
        raise SrkitError("--data-lr needs --data (the HR folder it is paired with)")


def check_config(config: TrainConfig, recipe_class: type[Recipe] | None = None) -> None:
    """Validate ``config`` (for ``recipe_class`` when given) before a run starts; one-line errors."""
    check_fields(config)
    check_shared_rules(config)
    if recipe_class is not None:
        recipe_class.validate(config)
