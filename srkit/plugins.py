"""Plugin discovery and loading through pluggy and the ``srkit`` entry-point group.

Loading is lazy (the first call of :func:`get_registry`) and isolated: a plugin that
fails to import or to register produces a warning naming it, is listed by
``srkit plugins``, and everything else keeps working.

``SRKIT_PLUGINS=core,drn`` loads only the named entry points (``core`` is always loaded);
``SRKIT_DISABLE_PLUGINS=name,...`` skips some; ``SRKIT_PLUGIN_MODULES=pkg.mod,...`` loads extra
plugin modules by import path (a plugin under development, before it has an entry point).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

import pluggy

from srkit import hookspecs
from srkit.errors import PluginError
from srkit.registry import Entry, FailedPlugin, Origin, Registry
from srkit.version import PLUGIN_API_VERSION

ENTRY_POINT_GROUP = "srkit"
CORE_PLUGIN = "core"

# hook name -> registry kind
_REGISTER_HOOKS = {
    "register_generators": "generator",
    "register_discriminators": "discriminator",
    "register_losses": "loss",
    "register_degradations": "degradation",
    "register_recipes": "recipe",
    "register_converters": "converter",
}

_registry: Registry | None = None
_manager: pluggy.PluginManager | None = None


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name, "").strip()
    return {part.strip() for part in value.split(",") if part.strip()} if value else None


def _selected(entry_point_names: Iterable[str]) -> set[str]:
    only, disabled = _env_list("SRKIT_PLUGINS"), _env_list("SRKIT_DISABLE_PLUGINS") or set()
    names = set(entry_point_names)
    if only is not None:
        names &= only | {CORE_PLUGIN}
    return names - (disabled - {CORE_PLUGIN})


def _origin(ep: EntryPoint) -> Origin:
    dist = getattr(ep, "dist", None)
    return Origin(ep.name, dist.name if dist else "?", dist.version if dist else "?")


def _check_api_version(module: ModuleType, origin: Origin) -> None:
    declared = getattr(module, "SRKIT_PLUGIN_API", PLUGIN_API_VERSION)
    if declared != PLUGIN_API_VERSION:
        raise PluginError(
            f"written for srkit plugin API {declared}, this srkit speaks API {PLUGIN_API_VERSION}; "
            "upgrade the plugin or srkit"
        )


def build_registry(plugins: Iterable[tuple[ModuleType | EntryPoint, Origin | None]]) -> tuple[
    Registry, pluggy.PluginManager
]:
    """Load the given plugins (modules or entry points) into a fresh registry and plugin manager."""
    registry = Registry()
    manager = pluggy.PluginManager("srkit")
    manager.add_hookspecs(hookspecs)
    for plugin, origin in plugins:
        if isinstance(plugin, EntryPoint):
            origin = origin or _origin(plugin)
        origin = origin or Origin(getattr(plugin, "__name__", "?"))
        try:
            module = plugin.load() if isinstance(plugin, EntryPoint) else plugin
            _check_api_version(module, origin)
            manager.register(module, name=origin.plugin)
            _register_items(manager, module, registry, origin)
        except Exception as exc:  # a broken plugin must not break the CLI
            if manager.get_plugin(origin.plugin) is not None:
                manager.unregister(name=origin.plugin)
            message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PluginError) else str(exc)
            registry.failed.append(FailedPlugin(origin, message))
            warnings.warn(f"srkit: plugin {origin} failed to load: {message}", stacklevel=2)
            continue
        registry.loaded.append(origin)
    return registry, manager


def _register_items(manager: pluggy.PluginManager, module: ModuleType, registry: Registry,
                    origin: Origin) -> None:
    # Collect into a staging registry first so a plugin that fails half-way registers nothing.
    staged: list[Entry] = []
    for hook_name, kind in _REGISTER_HOOKS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            if impl.plugin is not module:
                continue

            def register(name: str, obj: object, _kind: str = kind) -> None:
                staged.append(Entry(_kind, name, obj, origin))

            impl.function(register=register)
    registry.add_all(staged)


def discovered_entry_points() -> list[EntryPoint]:
    eps = entry_points(group=ENTRY_POINT_GROUP)
    chosen = _selected(ep.name for ep in eps)
    return sorted((ep for ep in eps if ep.name in chosen), key=lambda ep: (ep.name != CORE_PLUGIN, ep.name))


def _extra_module_plugins() -> list[tuple[EntryPoint, Origin]]:
    names = sorted(_env_list("SRKIT_PLUGIN_MODULES") or ())
    return [(EntryPoint(name, name, ENTRY_POINT_GROUP), Origin(name, "SRKIT_PLUGIN_MODULES", "-"))
            for name in names]


def get_registry() -> Registry:
    """The process-wide registry, loading every installed plugin on first use."""
    global _registry, _manager
    if _registry is None:
        plugins = [(ep, None) for ep in discovered_entry_points()] + _extra_module_plugins()
        _registry, _manager = build_registry(plugins)
    return _registry


def get_plugin_manager() -> pluggy.PluginManager:
    get_registry()
    assert _manager is not None
    return _manager


def reset_registry() -> None:
    """Forget loaded plugins so the next :func:`get_registry` rediscovers them (tests, notebooks)."""
    global _registry, _manager
    _registry, _manager = None, None


def lookup(kind: str, name: str) -> object:
    """The object registered as ``kind`` ``name``, or a one-line error listing what is installed."""
    return get_registry().get(kind, name)


def add_plugin_commands(group) -> None:  # noqa: ANN001 - click.Group
    """Let every loaded plugin add its commands; one that fails is warned about, not fatal."""
    manager = get_plugin_manager()
    for impl in manager.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=group)
        except Exception as exc:  # a plugin's tooling must not break the CLI
            warnings.warn(f"srkit: plugin {impl.plugin_name} failed to add its commands: "
                          f"{type(exc).__name__}: {exc}", stacklevel=2)
