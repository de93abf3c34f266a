"""The registry: every generator, discriminator, loss, degradation, recipe and converter by name.

Plugins never touch it directly: their hooks receive a ``register(name, obj)`` callback and
:mod:`srkit.plugins` adds what they registered here, all or nothing per plugin, so a plugin
that registers something invalid or clashing is refused as a whole with one clear message.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from srkit.errors import PluginError, SrkitError

KINDS = ("generator", "discriminator", "loss", "degradation", "recipe", "converter")
#: Plugin CLI commands are kept beside the items, under this kind (not listed in :data:`KINDS`).
COMMAND = "command"

# Names end up in CLI arguments such as ``--models a,b`` and ``--weights name=path``.
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


@dataclass(frozen=True)
class Origin:
    """Where a registered item came from: the entry point and the distribution that provides it."""

    plugin: str
    distribution: str = "?"
    version: str = "?"

    def __str__(self) -> str:
        return f"{self.plugin} ({' '.join(filter(None, (self.distribution, self.version)))})"


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    obj: Any
    origin: Origin


@dataclass
class FailedPlugin:
    """A plugin that could not be loaded; ``error`` says why in one line, ``details`` is the traceback."""

    origin: Origin
    error: str
    details: str = ""

    def __str__(self) -> str:
        return f"plugin {self.origin} failed to load: {self.error}"


@dataclass
class Registry:
    """Items by kind and name, plus the plugins that failed to load (kept to be listed, not raised)."""

    entries: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {k: {} for k in (*KINDS, COMMAND)})
    failed: list[FailedPlugin] = field(default_factory=list)
    loaded: list[Origin] = field(default_factory=list)

    def add(self, kind: str, name: str, obj: Any, origin: Origin) -> None:
        """Add one item; a bad name, an object of the wrong sort or a clash raises :class:`PluginError`."""
        validate(kind, name, obj)
        existing = self.entries[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"{kind} {name!r} is registered twice: by plugin {existing.origin} "
                f"and by plugin {origin}"
            )
        self.entries[kind][name] = Entry(kind, name, obj, origin)

    def add_all(self, entries: list[Entry]) -> None:
        """Add several entries, all or none: a clash leaves the registry unchanged."""
        trial = {kind: dict(items) for kind, items in self.entries.items()}
        staged = Registry(trial)
        for e in entries:
            staged.add(e.kind, e.name, e.obj, e.origin)
        self.entries = staged.entries

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).obj

    def entry(self, kind: str, name: str) -> Entry:
        """The entry ``kind`` ``name``, or a one-line :class:`SrkitError` listing what is installed."""
        if kind not in self.entries:
            raise SrkitError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        try:
            return self.entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.entries[kind])) or "none"
            raise SrkitError(f"unknown {kind} {name!r}; installed: {known}") from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])


def validate(kind: str, name: str, obj: Any) -> None:
    """Refuse at load time what would otherwise fail much later, deep inside ``srkit train``."""
    if kind not in KINDS and kind != COMMAND:
        raise PluginError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PluginError(f"{kind} name {name!r} must be lower-case letters, "
                          "digits, '.', '_' or '-' (it is typed on the command line)")
    problem = _problem_with(kind, obj)
    if problem:
        raise PluginError(f"{kind} {name!r} {problem}")


def _problem_with(kind: str, obj: Any) -> str | None:
    if kind == "recipe":
        return _recipe_problem(obj)
    if kind == COMMAND:
        import click

        return None if isinstance(obj, click.Command) else f"is {obj!r}, not a click command"
    if kind == "converter":
        from srkit.interfaces import converter_problem

        return converter_problem(obj)
    what = "a factory (class or function)"
    if not callable(obj) or _is_module_instance(obj):
        return f"is {_short_repr(obj)}, not {what}"
    return None


def _is_module_instance(obj: Any) -> bool:
    # nn.Module instances are callable, but calling one runs forward(), not a constructor.
    from torch import nn

    return isinstance(obj, nn.Module)


def _short_repr(obj: Any) -> str:
    text = repr(obj).splitlines()
    return text[0] + ("...)" if len(text) > 1 else "") if text else type(obj).__name__


def _recipe_problem(obj: Any) -> str | None:
    from srkit.config import TrainConfig
    from srkit.interfaces import Recipe

    if not (isinstance(obj, type) and issubclass(obj, Recipe)):
        return f"is {obj!r}, not a subclass of srkit.interfaces.Recipe"
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        return f"({obj.__qualname__}) does not implement {missing}"
    config_class = getattr(obj, "config_class", None)
    if not (isinstance(config_class, type) and issubclass(config_class, TrainConfig)):
        return (f"({obj.__qualname__}) needs config_class, a dataclass subclassing "
                "srkit.config.TrainConfig")
    return None
