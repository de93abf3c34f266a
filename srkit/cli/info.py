"""``srkit info``: what an srkit weights file holds, read from its metadata."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("info", short_help="Show what a weights file or checkpoint holds.")
@click.argument("weights", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def command(weights: Path, as_json: bool) -> None:
    """Show the architecture, scale, parameters and training config stored in WEIGHTS."""
    from srkit.models import count_parameters
    from srkit.training.checkpoint import describe_checkpoint_file
    from srkit.weights import load_module, weights_info

    checkpoint = describe_checkpoint_file(weights) if weights.exists() else None
    if checkpoint is not None:
        _show_checkpoint(checkpoint, as_json)
        return
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
    if info.get("validation"):
        click.echo(f"  validation: {_validation_text(info['validation'])}")
    if info["config"]:
        click.echo("  training config: " + ", ".join(f"{k}={v}" for k, v in sorted(info["config"].items())))


def _validation_text(validation: dict) -> str:
    return (f"PSNR {validation['psnr']:.3f} dB, SSIM {validation['ssim']:.4f} on "
            f"{validation.get('set', '?')} at iteration {validation.get('iteration', '?')}")


def _show_checkpoint(checkpoint: dict, as_json: bool) -> None:
    """A training checkpoint: where the run stands and which file to use instead."""
    if as_json:
        click.echo(json.dumps({"kind": "checkpoint", **checkpoint}, indent=2, sort_keys=True))
        return
    recipe, run = checkpoint["recipe"] or "RECIPE", checkpoint["run"]
    of_total = f" of {checkpoint['iters']}" if checkpoint.get("iters") else ""
    scale = f" x{checkpoint['scale']}" if checkpoint.get("scale") else ""
    click.echo(f"{checkpoint['file']}: srkit training checkpoint of recipe {recipe}{scale} at "
               f"iteration {checkpoint['iteration']}{of_total} (optimizer and RNG state included)")
    if checkpoint.get("validation"):
        click.echo(f"  last validation: {_validation_text(checkpoint['validation'])}")
    click.echo(f"  continue training: srkit train {recipe} --resume --out {run}")
    click.echo(f"  weights for upscale/bench: {Path(run) / 'model.safetensors'} "
               "(srkit info shows them)")
