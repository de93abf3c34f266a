"""``srkit info``: what an srkit weights file holds, read from its metadata."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("info")
@click.argument("weights", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def command(weights: Path, as_json: bool) -> None:
    """Show the architecture, scale, parameters and training config stored in WEIGHTS.

    WEIGHTS may also be a foreign checkpoint an installed converter recognises (.pth, .pt, ...).
    """
    from srkit.model_files import describe_model_file, is_srkit_weights

    if not is_srkit_weights(weights):
        _foreign(weights, describe_model_file(weights), as_json)
        return
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


def _foreign(path: Path, info: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    scale = f" x{info['scale']}" if info["scale"] else ""
    click.echo(f"{path}: {info['kind']} {info['arch']}{scale}, {info['parameters']:,} parameters, "
               f"foreign checkpoint read by the {info['converter']} converter")
    click.echo(f"  arguments: {json.dumps(info['kwargs'], sort_keys=True)}")
    if info["extras"]:
        click.echo(f"  extra modules: {', '.join(info['extras'])}")
