"""``srkit plot RUN``: a PNG of a run's loss terms and validation PSNR, from its log.jsonl."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("plot", short_help="Plot a run's losses and validation PSNR into a PNG.")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Image file to write: .png, .svg or .pdf.  [default: RUN/curves.png]")
def command(run: Path, out: Path | None) -> None:
    """Plot the loss terms and validation PSNR of training run RUN (its log.jsonl) into a PNG.

    Needs matplotlib (pip install 'srkit[plot]'). Live curves: pip install 'srkit[tensorboard]'
    and run tensorboard --logdir RUN.
    """
    from srkit.training.report import plot_curves
    from srkit.writable import check_output_file

    out = out if out is not None else run / "curves.png"
    check_output_file(out, "--out", inputs=[run / "log.jsonl"], suffixes=(".png", ".svg", ".pdf"))
    written = plot_curves(run, out)
    click.echo(f"wrote {written}", err=True)
