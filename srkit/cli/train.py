"""``srkit train``: placeholder until its module lands (replaced by the real command)."""

import click


@click.command("train")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("'srkit train' is not implemented yet")
