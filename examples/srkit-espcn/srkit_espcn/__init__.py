"""srkit-espcn: ESPCN (Shi et al., CVPR 2016) as an srkit plugin, and a template for your own.

srkit finds this module through the ``srkit`` entry point in pyproject.toml and calls the
hooks below once, when its registry is first used. Each hook imports what it registers
only when called, so a broken import shows up as "plugin espcn failed to load", not as a
crash of ``srkit``.
"""

from __future__ import annotations

import click
from srkit.api import Register, hookimpl

#: The srkit plugin API this plugin is written for (``srkit.api.API_VERSION``).
SRKIT_PLUGIN_API = 4


@hookimpl
def register_generators(register: Register) -> None:
    from srkit_espcn.arch import ESPCN

    register("espcn", ESPCN)


@hookimpl
def register_recipes(register: Register) -> None:
    from srkit_espcn.recipe import ESPCNRecipe

    register("espcn", ESPCNRecipe)


@hookimpl
def register_converters(register: Register) -> None:
    from srkit_espcn.convert import ESPCN_CONVERTER

    register("espcn", ESPCN_CONVERTER)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(espcn_info)


@click.command("espcn-info")
@click.option("--scale", default=3, show_default=True, help="upscaling factor")
@click.option("--color", type=click.Choice(["rgb", "y"]), default="rgb", show_default=True,
              help="rgb: all channels through the network; y: luma only (the paper)")
def espcn_info(scale: int, color: str) -> None:
    """Print the ESPCN layers and parameter count for a scale."""
    from srkit.api import build_generator, count_parameters

    model = build_generator("espcn", scale=scale, color=color)
    click.echo(model)
    click.echo(f"parameters: {count_parameters(model):,}")
