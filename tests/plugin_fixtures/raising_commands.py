"""A plugin whose register_commands hook raises."""

import click

from srkit.hookspecs import hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_commands(cli: click.Group) -> None:
    raise ValueError("no commands today")
