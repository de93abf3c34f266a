"""``srkit convert``: placeholder until its module lands (replaced by the real command)."""

import click


@click.command("convert")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("'srkit convert' is not implemented yet")
