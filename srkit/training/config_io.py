"""Config files and effective configs: read TOML/YAML, check keys and types, write ``config.toml``.

Precedence when building a run's config: flags given on the command line > the ``--config``
file > (when resuming) the checkpoint's config > the recipe's dataclass defaults.

The one place a training config is validated, for every recipe, before any work starts.

Three layers, in order: every field against what its ``option(...)`` declares (choices; bounds
and finiteness of numbers), rules of the shared options that involve several fields, then the recipe's own
:meth:`srkit.interfaces.Recipe.validate`.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srkit.config import DEFAULT_MAX, TrainConfig
from srkit.errors import SrkitError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from srkit.config import rename_warning, renamed_options

#: keys a config file may hold besides the recipe's fields
RECORD_KEYS = ("recipe",)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """A config field as the CLI and file readers see it."""

    name: str
    kind: type  # bool, int, float or str
    optional: bool
    default: Any
    help: str
    choices: tuple[str, ...] | None
    path: str | None = None  # "file" or "dir" for path options
    metavar: str | None = None
    renamed_from: tuple[str, ...] = ()  # earlier names, still accepted with a warning


def field_specs(config_class: type[TrainConfig]) -> list[FieldSpec]:
    hints = typing.get_type_hints(config_class)
    specs = []
    for f in dataclasses.fields(config_class):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        kind = args[0] if optional and len(args) == 1 else hint
        if kind not in (bool, int, float, str):
            raise SrkitError(f"{config_class.__name__}.{f.name}: unsupported option type {hint}")
        default = f.default if f.default is not dataclasses.MISSING else None
        meta = _inherited_metadata(config_class, f)
        specs.append(FieldSpec(f.name, kind, optional, default, f.metadata.get("help", ""),
                               meta.get("choices"), meta.get("path"), meta.get("metavar"),
                               tuple(meta.get("renamed_from", ()))))
    return specs


def _inherited_metadata(config_class: type, f: dataclasses.Field) -> dict[str, Any]:
    """A field's metadata, with ``choices``/``path``/``metavar``/``renamed_from`` a subclass did not restate
    taken from the base class that declared them (a recipe changing a default keeps them)."""
    merged: dict[str, Any] = {}
    for base in reversed(config_class.__mro__):
        fields = getattr(base, "__dataclass_fields__", {})
        if f.name in fields:
            merged.update({k: v for k, v in fields[f.name].metadata.items()
                           if k in ("choices", "path", "metavar", "renamed_from")})
    return merged


def coerce(spec: FieldSpec, value: Any, source: str) -> Any:
    """``value`` as the field's type, or a one-line error naming ``source`` and the key."""
    if value is None and spec.optional:
        return None
    kind = spec.kind
    ok = (
        (kind is bool and isinstance(value, bool))
        or (kind is int and isinstance(value, int) and not isinstance(value, bool))
        or (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (kind is str and isinstance(value, (str, int, float, list)) and not isinstance(value, bool))
    )
    if not ok:
        raise SrkitError(f"{source}: {spec.name} must be {kind.__name__}, got {value!r}")
    if kind is str and isinstance(value, list):
        value = ",".join(str(v) for v in value)
    value = kind(value)
    if spec.choices and value not in spec.choices:
        raise SrkitError(f"{source}: {spec.name} must be one of {', '.join(spec.choices)}, "
                         f"got {value!r}")
    return value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Key/value pairs of a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file; dashes -> underscores."""
    path = Path(path)
    if not path.is_file():
        raise SrkitError(f"{path}: no such config file")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        else:
            raise SrkitError(f"{path}: config files must be .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SrkitError(f"{path}: invalid TOML ({exc})") from None
    except ImportError:
        raise SrkitError(f"{path}: reading YAML needs pyyaml (pip install pyyaml)") from None
    except Exception as exc:  # yaml.YAMLError, without importing yaml for TOML users
        if isinstance(exc, SrkitError):
            raise
        raise SrkitError(f"{path}: invalid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise SrkitError(f"{path}: expected a table of options at the top level")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def check_file_values(config_class: type[TrainConfig], values: dict[str, Any], source: str,
                      recipe: str) -> dict[str, Any]:
    """Typed values of a config file for ``config_class``; unknown keys are an error."""
    specs = {s.name: s for s in field_specs(config_class)}
    renamed = renamed_options(config_class)
    checked = {}
    for key, value in values.items():
        if key == "recipe":
            if value != recipe:
                raise SrkitError(f"{source}: written for recipe {value!r}, not {recipe!r}")
            continue
        if key in renamed:
            if renamed[key] in values:
                raise SrkitError(f"{source}: both {key!r} and its new name {renamed[key]!r} are set")
            rename_warning(source, key, renamed[key])
            key = renamed[key]
        if key not in specs:
            raise SrkitError(f"{source}: unknown key {key!r} for recipe {recipe!r}")
        checked[key] = coerce(specs[key], value, source)
    return checked


def current_names(config_class: type[TrainConfig], saved: dict[str, Any]) -> dict[str, Any]:
    """A config saved by an earlier srkit (a checkpoint's) with renamed options under today's names."""
    renamed = renamed_options(config_class)
    return {renamed.get(key, key): value for key, value in saved.items()}


def config_record(recipe: str, config: TrainConfig) -> dict[str, Any]:
    """The effective config as saved with a run: ``recipe`` plus every field."""
    return {"recipe": recipe, **dataclasses.asdict(config)}


def write_config_toml(path: Path, record: dict[str, Any]) -> None:
    """``config.toml`` that ``--config`` reads back (TOML has no null: unset options are left out)."""
    import tomli_w

    from srkit.atomic_files import atomic_write_text

    atomic_write_text(path, tomli_w.dumps({k: v for k, v in record.items() if v is not None}))


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
