"""``srkit plugins``: what is installed, and where it came from."""

from __future__ import annotations

import click

from srkit.registry import KINDS


@click.command("plugins")
@click.option("--verbose", "-v", is_flag=True, help="Show the plugin (distribution, version) of every item.")
def command(verbose: bool) -> None:
    """List registered generators, discriminators, losses, degradations, recipes and converters."""
    from srkit.plugins import get_registry

    registry = get_registry()
    for kind in KINDS:
        names = registry.names(kind)
        title = "losses" if kind == "loss" else f"{kind}s"
        click.echo(f"{title}:" if names else f"{title}: (none)")
        for name in names:
            entry = registry.entry(kind, name)
            click.echo(f"  {name:<20} {entry.origin}" if verbose else f"  {name:<20} [{entry.origin.plugin}]")
    if verbose:
        click.echo("plugins loaded:")
        for origin in registry.loaded:
            click.echo(f"  {origin}")
    for failed in registry.failed:
        click.echo(f"FAILED plugin {failed.origin}: {failed.error}")
