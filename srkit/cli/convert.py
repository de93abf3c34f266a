"""``srkit convert``: foreign checkpoints (official releases, other repositories) to srkit weights."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("convert", short_help="Convert a foreign checkpoint into srkit safetensors.")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--arch", required=True, help="Architecture of SRC, e.g. srresnet, srgan-d, drn-s, drn-l.")
@click.option("--scale", type=int, required=True, help="Upscaling factor the checkpoint was trained for.")
@click.option("--dual", "dual", type=click.Path(path_type=Path), default=None,
              help="DRN: the official dual-model file (stored beside the generator in DST).")
def command(src: Path, dst: Path, arch: str, scale: int, dual: Path | None) -> None:
    """Convert checkpoint SRC into srkit safetensors DST (loads with weights_only, never unpickles code).

    Weights may be nested under state_dict/params/params_ema and carry module./_orig_mod. prefixes.
    """
    from srkit.convert import convert_checkpoint

    extra = {"dual": dual} if dual is not None else {}
    converted = convert_checkpoint(src, dst, arch=arch, scale=scale, extra_files=extra)
    n_extra = sum(len(v) for v in converted.extras.values())
    extras_note = f" + {n_extra} tensors of {', '.join(converted.extras)}" if n_extra else ""
    click.echo(f"wrote {dst}: {converted.kind} {converted.arch} x{scale}, "
               f"{len(converted.state_dict)} tensors{extras_note}")
