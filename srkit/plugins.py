"""Plugin discovery and loading through pluggy and the ``srkit`` entry-point group.

Loading is lazy (the first call of :func:`get_registry`) and isolated: a plugin that fails to
import, declares another plugin API version, raises inside a hook or registers something invalid
or clashing is refused as a whole. It produces a :class:`PluginLoadWarning` naming it, is listed
by ``srkit plugins``, and everything else keeps working.

``SRKIT_PLUGINS=core,drn`` loads only the named entry points (``core`` is always loaded);
``SRKIT_DISABLE_PLUGINS=name,...`` skips some; ``SRKIT_PLUGIN_MODULES=pkg.mod,...`` loads extra
plugin modules by import path (a plugin under development, before it has an entry point).
"""

from __future__ import annotations

import difflib
import os
import traceback
import warnings
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pluggy

from srkit import hookspecs
from srkit.errors import PluginError
from srkit.registry import COMMAND, Entry, FailedPlugin, Origin, Registry
from srkit.version import OLDEST_PLUGIN_API, PLUGIN_API_VERSION

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


class PluginLoadWarning(UserWarning):
    """A plugin was refused or one of its commands was not added; the rest of srkit works."""


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name, "").strip()
    return {part.strip() for part in value.split(",") if part.strip()} if value else None


def _selected(entry_point_names: Iterable[str]) -> set[str]:
    available = set(entry_point_names)
    only, disabled = _env_list("SRKIT_PLUGINS"), _env_list("SRKIT_DISABLE_PLUGINS") or set()
    for variable, asked in (("SRKIT_PLUGINS", only or set()), ("SRKIT_DISABLE_PLUGINS", disabled)):
        unknown = sorted(asked - available)
        if unknown:
            warnings.warn(f"srkit: {variable} names {', '.join(unknown)}, which no installed "
                          f"distribution provides (installed: {', '.join(sorted(available))})",
                          PluginLoadWarning, stacklevel=3)
    names = available
    if only is not None:
        names &= only | {CORE_PLUGIN}
    return names - (disabled - {CORE_PLUGIN})


def _origin(ep: EntryPoint) -> Origin:
    dist = getattr(ep, "dist", None)
    return Origin(ep.name, dist.name if dist else "?", dist.version if dist else "?")


def _check_api_version(module: Any) -> None:
    declared = getattr(module, "SRKIT_PLUGIN_API", PLUGIN_API_VERSION)
    if not isinstance(declared, int) or not OLDEST_PLUGIN_API <= declared <= PLUGIN_API_VERSION:
        spoken = (f"API {PLUGIN_API_VERSION}" if OLDEST_PLUGIN_API == PLUGIN_API_VERSION
                  else f"API {OLDEST_PLUGIN_API} to {PLUGIN_API_VERSION}")
        raise PluginError(
            f"it was written for srkit plugin API {declared!r}; this srkit speaks {spoken} "
            f"(install a release of the plugin made for API {PLUGIN_API_VERSION}, or a srkit "
            f"that speaks API {declared!r})"
        )


def build_registry(plugins: Iterable[tuple[ModuleType | EntryPoint, Origin | None]]) -> tuple[
    Registry, pluggy.PluginManager
]:
    """Load the given plugins (modules or entry points) into a fresh registry and plugin manager.

    Plugins load in the order given; on a name clash the later one is refused.
    """
    registry = Registry()
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    for plugin, origin in plugins:
        if isinstance(plugin, EntryPoint):
            origin = origin or _origin(plugin)
        origin = origin or Origin(getattr(plugin, "__name__", "?"))
        try:
            _load_plugin(manager, registry, plugin, origin)
        except Exception as exc:  # a broken plugin must not break the CLI
            failure = FailedPlugin(origin, _explain(exc), traceback.format_exc())
            registry.failed.append(failure)
            warnings.warn(f"srkit: {failure}", PluginLoadWarning, stacklevel=2)
            continue
        registry.loaded.append(origin)
    return registry, manager


def _load_plugin(manager: pluggy.PluginManager, registry: Registry,
                 plugin: ModuleType | EntryPoint, origin: Origin) -> None:
    same_name = next((o for o in registry.loaded if o.plugin == origin.plugin), None)
    if same_name is not None:
        raise PluginError(f"the plugin name {origin.plugin!r} is already taken by plugin {same_name}; "
                          "rename one entry point")
    try:
        module = plugin.load() if isinstance(plugin, EntryPoint) else plugin
    except Exception as exc:
        raise PluginError(f"import failed: {_explain(exc)}") from exc
    _check_api_version(module)
    if manager.is_registered(module):
        raise PluginError(f"{getattr(module, '__name__', module)} is already loaded as plugin "
                          f"{manager.get_name(module)!r}")
    manager.register(module, name=origin.plugin)
    try:
        _refuse_unknown_hooks(manager, module)
        registry.add_all(_collect_items(manager, module, origin))
    except Exception:
        manager.unregister(module)
        raise


def _refuse_unknown_hooks(manager: pluggy.PluginManager, module: Any) -> None:
    """A misspelt hook would otherwise be silently ignored: pluggy's ``check_pending`` finds it,
    and the error names the hook and the closest srkit hook."""
    try:
        manager.check_pending()
    except pluggy.PluginValidationError:
        known = sorted(name for name in dir(hookspecs) if name.startswith("register_"))
        unknown = [c.name for c in manager.get_hookcallers(module) or [] if not c.has_spec()]
        name = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]}?" if close else f"srkit hooks: {', '.join(known)}"
        raise PluginError(f"@hookimpl {name} is not an srkit hook ({hint})") from None


def _collect_items(manager: pluggy.PluginManager, module: Any, origin: Origin) -> list[Entry]:
    """Call each of the plugin's hooks with a ``register`` callback; return what they registered."""
    staged: list[Entry] = []
    for hook_name, kind in _REGISTER_HOOKS.items():
        for impl in _impls_of(manager, hook_name, module):

            def register(name: str, obj: object, _kind: str = kind) -> None:
                staged.append(Entry(_kind, name, obj, origin))

            _call(impl, hook_name, register=register)
    for impl in _impls_of(manager, "register_commands", module):
        group = click.Group("srkit")
        _call(impl, "register_commands", cli=group)
        staged.extend(Entry(COMMAND, name, cmd, origin) for name, cmd in group.commands.items())
    return staged


def _impls_of(manager: pluggy.PluginManager, hook_name: str, module: Any) -> list[Any]:
    return [impl for impl in getattr(manager.hook, hook_name).get_hookimpls() if impl.plugin is module]


def _call(impl: Any, hook_name: str, **arguments: object) -> None:
    try:
        impl.function(**{name: arguments[name] for name in impl.argnames})
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(f"{hook_name} raised {_explain(exc)}") from exc


def _explain(exc: BaseException) -> str:
    """One line: the message of a PluginError, else the exception type, message and where it was raised."""
    if isinstance(exc, PluginError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).parent.name}/{Path(frames[-1].filename).name}:" \
            f"{frames[-1].lineno})" if frames else ""
    message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {message}{where}"


def discovered_entry_points() -> list[EntryPoint]:
    """The selected entry points of the ``srkit`` group: ``core`` first, then by name."""
    eps = entry_points(group=ENTRY_POINT_GROUP)
    chosen = _selected(ep.name for ep in eps)
    return sorted((ep for ep in eps if ep.name in chosen),
                  key=lambda ep: (ep.name != CORE_PLUGIN, ep.name, _origin(ep).distribution))


def _extra_module_plugins() -> list[tuple[EntryPoint, Origin]]:
    names = sorted(_env_list("SRKIT_PLUGIN_MODULES") or ())
    return [(EntryPoint(name, name, ENTRY_POINT_GROUP), Origin(name, "SRKIT_PLUGIN_MODULES", ""))
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


def lookup(kind: str, name: str) -> Any:
    """The object registered as ``kind`` ``name``, or a one-line error listing what is installed."""
    return get_registry().get(kind, name)


def add_plugin_commands(group: click.Group) -> None:
    """Add every plugin's commands to ``group``; one that would shadow a command already there is
    skipped with a warning (built-in commands win)."""
    registry = get_registry()
    for name in registry.names(COMMAND):
        entry = registry.entry(COMMAND, name)
        if name in group.commands:
            warnings.warn(f"srkit: plugin {entry.origin}: command {name!r} is not added, "
                          f"'srkit {name}' is a built-in command", PluginLoadWarning, stacklevel=2)
            continue
        group.add_command(entry.obj, name)
