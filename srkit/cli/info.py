"""``srkit info``: what an srkit weights file holds, read from its header (no model is built)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click


def _check_arguments(info: dict[str, Any], source: str) -> None:
    """The stored kwargs fit the installed factory's signature (when the architecture is installed)."""
    from srkit.plugins import get_registry
    from srkit.weights_check import check_factory_kwargs

    registry = get_registry()
    if info["arch"] in registry.names(info["kind"]):
        check_factory_kwargs(registry.get(info["kind"], info["arch"]), info["kwargs"], source)


@click.command("info")
@click.argument("weights", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def command(weights: Path, as_json: bool) -> None:
    """Show the architecture, scale, stored values and training config of WEIGHTS.

    Reads only the file's header: the network is never built, so a file whose metadata lies
    cannot make this command allocate anything.
    """
    from srkit.weights import decode_metadata, read_header

    metadata, shapes = read_header(weights)
    info = decode_metadata(metadata, str(weights))
    _check_arguments(info, str(weights))
    prefixes = tuple(f"{p}." for p in info["extras"])
    own = [shape for key, shape in shapes.items() if not key.startswith(prefixes)]
    info["tensors"] = len(own)
    info["values"] = sum(math.prod(shape) for shape in own)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    click.echo(f"{weights}: {info['kind']} {info['arch']} x{info['scale']}, "
               f"{info['values']:,} stored values in {info['tensors']} tensors, "
               f"srkit {info['srkit_version']}")
    click.echo(f"  arguments: {json.dumps(info['kwargs'], sort_keys=True)}")
    if info["extras"]:
        click.echo(f"  extra modules: {', '.join(info['extras'])}")
    if info["config"]:
        click.echo("  training config: " + ", ".join(f"{k}={v}" for k, v in sorted(info["config"].items())))
