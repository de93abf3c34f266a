"""``srkit degrade``: placeholder until its module lands (replaced by the real command)."""

import click


@click.command("degrade")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("'srkit degrade' is not implemented yet")
