"""``srkit plugins``: what is installed, and which plugin (distribution, version) provided it."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from srkit.registry import COMMAND, KINDS, Entry, Registry

_TITLES = {"loss": "losses", COMMAND: "commands"}


@click.command("plugins", short_help="List installed models, recipes and plugins.")
@click.option("--verbose", "-v", is_flag=True,
              help="Also show where each item is defined, its summary, and failure tracebacks.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON (for tools).")
@click.option("--strict", is_flag=True, help="Exit with status 1 if a plugin failed to load (for CI).")
def command(verbose: bool, as_json: bool, strict: bool) -> None:
    """List registered generators, discriminators, losses, degradations, recipes, converters and
    plugin commands, each with the plugin (distribution, version) it came from."""
    from srkit.plugins import get_registry

    registry = get_registry()
    if as_json:
        click.echo(json.dumps(as_document(registry), indent=2))
    else:
        _print_listing(registry, verbose)
    if strict and registry.failed:
        sys.exit(1)


def _print_listing(registry: Registry, verbose: bool) -> None:
    width = max((len(n) for kind in (*KINDS, COMMAND) for n in registry.names(kind)), default=0) + 2
    for kind in (*KINDS, COMMAND):
        names = registry.names(kind)
        title = _TITLES.get(kind, f"{kind}s")
        click.echo(f"{title}:" if names else f"{title}: (none)")
        for name in names:
            entry = registry.entry(kind, name)
            click.echo(f"  {name:<{width}}{entry.origin}")
            if verbose:
                summary = _summary(entry)
                click.echo(f"  {'':<{width}}{_where(entry.obj)}" + (f": {summary}" if summary else ""))
    click.echo("plugins:")
    for origin in registry.loaded:
        click.echo(f"  {origin}")
    for failed in registry.failed:
        click.echo(f"  {failed.origin}  FAILED: {failed.error}")
        if verbose and failed.details:
            click.echo("    " + failed.details.rstrip().replace("\n", "\n    "))


def as_document(registry: Registry) -> dict[str, Any]:
    """The JSON of ``srkit plugins --json``: plugins with their status, and every item."""
    from srkit.version import PLUGIN_API_VERSION, __version__

    plugins = [{**_origin_fields(o), "status": "loaded"} for o in registry.loaded]
    plugins += [{**_origin_fields(f.origin), "status": "failed", "error": f.error}
                for f in registry.failed]
    items = [{"kind": kind, "name": name, **_origin_fields(registry.entry(kind, name).origin),
              "object": _where(registry.get(kind, name)),
              "summary": _summary(registry.entry(kind, name))}
             for kind in (*KINDS, COMMAND) for name in registry.names(kind)]
    return {"srkit_version": __version__, "plugin_api": PLUGIN_API_VERSION,
            "plugins": plugins, "items": items}


def _origin_fields(origin: Any) -> dict[str, str]:
    return {"plugin": origin.plugin, "distribution": origin.distribution, "version": origin.version}


def _where(obj: Any) -> str:
    """``module.name`` of what was registered; a function made by a factory is named by the
    factory (``module.make_thing(...)``), not as ``make_thing.<locals>.inner``."""
    from srkit.interfaces import Converter

    target = obj.callback if isinstance(obj, click.Command) and obj.callback else obj
    if isinstance(target, Converter):  # the code that converts, not the shared wrapper class
        target = target.convert
    module = getattr(target, "__module__", None) or type(target).__module__
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    if ".<locals>." in name:
        name = name.split(".<locals>.")[0] + "(...)"
    return f"{module}.{name}"


#: reStructuredText roles (:class:`x`, :func:`~a.b`) and inline literals (``x``)
_RST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def plain_summary(text: str) -> str:
    """The first paragraph of a docstring on one line, with RST markup reduced to its text."""
    paragraph = []
    for line in text.strip().splitlines():
        if not line.strip():
            break
        paragraph.append(line.strip())
    summary = _RST_LITERAL.sub(r"\1", _RST_ROLE.sub(r"\1", " ".join(paragraph)))
    return summary.replace("`", "")


def _summary(entry: Entry) -> str:
    """One line: a recipe's or converter's ``description``, a command's help, else the docstring's
    summary (a converter's: its conversion function's)."""
    obj = entry.obj
    description = getattr(obj, "description", None)
    if entry.kind in ("recipe", "converter") and description:
        return str(description)
    if entry.kind == "converter" and callable(getattr(obj, "convert", None)):
        obj = obj.convert
    text = (obj.help or "") if isinstance(obj, click.Command) else (getattr(obj, "__doc__", "") or "")
    return plain_summary(text)
