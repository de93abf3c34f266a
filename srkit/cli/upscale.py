"""``srkit upscale``: placeholder until its module lands (replaced by the real command)."""

import click


@click.command("upscale")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("'srkit upscale' is not implemented yet")
