"""A plugin adding two commands: ``hello`` (new) and ``train`` (taken by a built-in command)."""

import click

from srkit.hookspecs import hookimpl

SRKIT_PLUGIN_API = 4


@click.command("hello")
@click.option("--name", default="world")
def hello(name: str) -> None:
    """Greet someone (a plugin command)."""
    click.echo(f"hello, {name}")


@click.command("train")
def fake_train() -> None:
    """Would shadow 'srkit train'; must not be added."""
    click.echo("shadowed")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(hello)
    cli.add_command(fake_train)
