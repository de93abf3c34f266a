"""``srkit info``: what an srkit weights file holds, read from its metadata."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("info")
@click.argument("weights", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def command(weights: Path, as_json: bool) -> None:
    """Show the architecture, scale, parameters and training config stored in WEIGHTS."""
    from srkit.models import count_parameters
    from srkit.weights import load_module, weights_info

    info = weights_info(weights)
    model = load_module(weights, kind=info["kind"])
    info["parameters"] = count_parameters(model)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    click.echo(f"{weights}: {info['kind']} {info['arch']} x{info['scale']}, "
               f"{info['parameters']:,} parameters, srkit {info['srkit_version']}")
    click.echo(f"  arguments: {json.dumps(info['kwargs'], sort_keys=True)}")
    if info["extras"]:
        click.echo(f"  extra modules: {', '.join(info['extras'])}")
    if info["config"]:
        click.echo("  training config: " + ", ".join(f"{k}={v}" for k, v in sorted(info["config"].items())))
