"""``srkit info``: what an srkit weights file holds, read from its header (no model is built)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from srkit.evaluation.carried_validation import below_bicubic_warning, validation_text


def _check_arguments(info: dict[str, Any], source: str) -> None:
    """The stored kwargs fit the installed factory's signature (when the architecture is installed)."""
    from srkit.plugins import get_registry
    from srkit.weights.check import check_factory_kwargs

    registry = get_registry()
    if info["arch"] in registry.names(info["kind"]):
        check_factory_kwargs(registry.get(info["kind"], info["arch"]), info["kwargs"], source)


def _run_folder_file(path: Path) -> Path:
    """What a run folder stands for: its checkpoints (which name its weights), else its weights."""
    from srkit.run_folder import RunFolder
    from srkit.training.state import LATEST

    if not path.is_dir():
        return path
    run = RunFolder(path)
    if (run.checkpoints / LATEST).is_file():
        return run.checkpoints
    return run.model if run.model.is_file() else path


@click.command("info", short_help="Show what a weights file or checkpoint holds.")
@click.argument("weights", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def command(weights: Path, as_json: bool) -> None:
    """Show the architecture, scale, stored values and training config of WEIGHTS.

    Reads only the file's header: the network is never built, so a file whose metadata lies
    cannot make this command allocate anything. A training checkpoint is recognised as one.
    WEIGHTS may also be a foreign checkpoint an installed converter recognises (.pth, .pt, ...),
    or a run folder (its checkpoint, or its weights when it has none).
    """
    from srkit.training.state import describe_checkpoint_file
    from srkit.weights.files import decode_metadata, read_header
    from srkit.weights.model_files import describe_model_file, is_srkit_weights

    weights = _run_folder_file(weights)
    checkpoint = describe_checkpoint_file(weights) if weights.exists() else None
    if checkpoint is not None:
        _show_checkpoint(checkpoint, as_json)
        return
    if not is_srkit_weights(weights):
        _foreign(weights, describe_model_file(weights), as_json)
        return
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
    if info.get("training"):
        click.echo(f"  training: {training_text(info['training'])}")
    if info.get("validation"):
        click.echo(f"  validation: {validation_text(info['validation'])}")
    if info["config"]:
        click.echo("  training config: " + ", ".join(f"{k}={v}" for k, v in sorted(info["config"].items())))
    warning = below_bicubic_warning(weights, info.get("validation"))
    if warning:
        click.echo(warning, err=True)


def training_text(training: dict[str, Any]) -> str:
    """``iteration 730 of 2000, stopped early (SIGINT)``, or ``... finished``."""
    reached, planned = training.get("iteration", "?"), training.get("iters", "?")
    if training.get("stopped_by"):
        end = f"stopped early ({training['stopped_by']})"
    elif reached == planned:
        end = "finished"
    else:
        end = "saved during training"
    return f"iteration {reached} of {planned}, {end}"


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
        click.echo(f"  last validation: {validation_text(checkpoint['validation'])}")
    click.echo(f"  continue training: srkit train {recipe} --resume --out {run}")
    click.echo(f"  weights for upscale/bench: {Path(run) / 'model.safetensors'} "
               "(srkit info shows them)")
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
