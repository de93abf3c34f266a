"""``srkit pack SRC_DIR STORE``: decode a training folder once into a store that crops fast."""

from __future__ import annotations

import os

import click


def human_bytes(count: float) -> str:
    """``512 B``, ``3.4 MB``, ``6.91 GB``: decimal units, as disks are sold."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.3g} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


@click.command("pack")
@click.argument("src_dir", metavar="SRC_DIR")
@click.argument("store", type=click.Path(file_okay=False), metavar="STORE")
@click.option("--lr-dir", type=click.Path(file_okay=False), default=None,
              help="LR folder paired with SRC_DIR (same names or DIV2K-style 0001x4.png): "
                   "makes a paired store; needs --scale")
@click.option("--scale", type=click.IntRange(min=1), default=None,
              help="HR/LR factor of --lr-dir (pairs DIV2K-style names and checks LR sizes)")
@click.option("--workers", type=click.IntRange(min=0), default=min(8, os.cpu_count() or 1),
              show_default=True, help="decoding processes (0: decode in this process)")
def command(src_dir: str, store: str, lr_dir: str | None, scale: int | None, workers: int) -> None:
    """Pack the images of SRC_DIR into STORE, a folder training reads crops from quickly.

    Every image is decoded once into memory-mapped uint8 shards, so a training crop reads a few
    pages instead of decoding a whole PNG: train with --data STORE (or --unpaired STORE). A store
    records its source files and is refused once they change; run the same command again to
    update it, or to resume an interrupted pack (finished shards are kept).
    """
    from srkit.data.bundled import resolve_dataset  # imports torch: only when the command runs
    from srkit.data.packing import pack

    lr_folder = resolve_dataset(lr_dir) if lr_dir is not None else None
    result = pack(resolve_dataset(src_dir), store, lr_dir=lr_folder, scale=scale, workers=workers)
    kind = "HR/LR pairs" if lr_dir is not None else "images"
    reused = f", {result.shards_reused} reused" if result.shards_reused else ""
    click.echo(f"packed {result.groups} {kind} into {result.store} ({result.shards_written} "
               f"shards written{reused}, {len(result.skipped)} images skipped)")
    ratio = result.disk_bytes / result.pixel_bytes if result.pixel_bytes else 0.0
    click.echo(f"disk: {human_bytes(result.disk_bytes)} for {human_bytes(result.pixel_bytes)} of "
               f"decoded pixels ({ratio:.2f}x); train with --data {result.store}")
