"""The registry: every generator, discriminator, loss, degradation, recipe and converter by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from srkit.errors import PluginError, SrkitError

KINDS = ("generator", "discriminator", "loss", "degradation", "recipe", "converter")


@dataclass(frozen=True)
class Origin:
    """Where a registered item came from: the entry point and the distribution that provides it."""

    plugin: str
    distribution: str = "?"
    version: str = "?"

    def __str__(self) -> str:
        return f"{self.plugin} ({self.distribution} {self.version})"


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    obj: Any
    origin: Origin


@dataclass
class FailedPlugin:
    origin: Origin
    error: str


@dataclass
class Registry:
    """Items by kind and name, plus the plugins that failed to load (kept to be listed, not raised)."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    failed: list[FailedPlugin] = field(default_factory=list)
    loaded: list[Origin] = field(default_factory=list)

    def add(self, kind: str, name: str, obj: Any, origin: Origin) -> None:
        if kind not in KINDS:
            raise PluginError(f"plugin {origin}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        if not isinstance(name, str) or not name or name != name.strip().lower():
            raise PluginError(f"plugin {origin}: {kind} name {name!r} must be a non-empty lower-case string")
        existing = self.entries[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"{kind} {name!r} is registered twice: by plugin {existing.origin} and by plugin {origin}"
            )
        self.entries[kind][name] = Entry(kind, name, obj, origin)

    def add_all(self, entries: list[Entry]) -> None:
        """Add several entries, all or none: a clash leaves the registry unchanged."""
        trial = Registry({kind: dict(items) for kind, items in self.entries.items()})
        for e in entries:
            trial.add(e.kind, e.name, e.obj, e.origin)
        self.entries = trial.entries

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).obj

    def entry(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.entries[kind])) or "none"
            raise SrkitError(f"unknown {kind} {name!r}; installed: {known}") from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])
