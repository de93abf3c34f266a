"""``srkit bench``: placeholder until its module lands (replaced by the real command)."""

import click


@click.command("bench")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("'srkit bench' is not implemented yet")
