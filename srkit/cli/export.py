"""``srkit export``: srkit weights for other tools (the original layout, or ONNX)."""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """\b
Examples:
  srkit export runs/srresnet_x4/model.safetensors SRResNet_x4.pth.tar --format official
  srkit export drn_s_x4.safetensors DRNS4x.pt --format official   # + DRNS4x_dual_model.pt
  srkit export model.safetensors model.onnx --format onnx
"""


@click.command("export", epilog=EPILOG)
@click.argument("weights", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["official", "onnx"]), required=True,
              help="official: the layout of the architecture's original release (written by the "
                   "plugin that reads it); onnx: an ONNX graph with dynamic height and width.")
def command(weights: Path, out: Path, fmt: str) -> None:
    """Write WEIGHTS for other tools: in the original release's layout, or as ONNX."""
    if fmt == "official":
        from srkit.weights.export import export_official

        written = export_official(weights, out)
        click.echo(f"wrote {', '.join(str(p) for p in written)}")
        return
    from srkit.weights.export import export_onnx

    differences = export_onnx(weights, out)
    checked = ", ".join(f"{w}x{h}: {d:.2g}" for (h, w), d in differences.items())
    click.echo(f"wrote {out} (onnxruntime vs PyTorch, largest difference: {checked})")
