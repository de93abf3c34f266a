"""``srkit degrade``: make an LR folder from an HR folder with a registered degradation."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click

from srkit.errors import SrkitError
from srkit.writable import check_output_folder

if TYPE_CHECKING:  # torch and the image code load when the command runs, not for `srkit --help`
    import torch

    from srkit.interfaces import Degradation


def build_degradation(spec: str, sigma: float | None) -> Degradation:
    """The degradation ``spec`` (``NAME[:key=value,...]``), given ``sigma`` only if the user set it."""
    from srkit.degradations.spec import build_degradation as build

    return build(spec) if sigma is None else build(spec, sigma=sigma)


def lr_name(hr_path: Path, scale: int, div2k_names: bool) -> str:
    """``bird.jpg`` -> ``bird.png``, or ``0001x4.png`` with DIV2K names."""
    return f"{hr_path.stem}x{scale}.png" if div2k_names else f"{hr_path.stem}.png"


def _output_names(hr_paths: list[Path], scale: int, div2k_names: bool) -> dict[Path, str]:
    names: dict[Path, str] = {}
    taken: dict[str, Path] = {}
    for path in hr_paths:
        name = lr_name(path, scale, div2k_names)
        if name in taken:
            raise SrkitError(
                f"{path}: would be written as {name} like {taken[name].name}; rename one of them"
            )
        names[path], taken[name] = name, path
    return names


def _degrade_file(hr_path: Path, scale: int, degradation: Degradation,
                  generator: torch.Generator) -> torch.Tensor:
    """8-bit LR (1,3,H//scale,W//scale) of one HR file; SrkitError naming the file on any problem."""
    from srkit.degradations.lr import make_lr
    from srkit.evaluation.protocol import modcrop
    from srkit.imageio import load_image
    from srkit.memory import allocation_error, is_allocation_failure

    image = load_image(hr_path)
    height, width = image.shape[-2:]
    if height < scale or width < scale:
        raise SrkitError(f"{hr_path}: {width}x{height} is smaller than the scale {scale}")
    hr = modcrop(image, scale).unsqueeze(0)
    try:
        return make_lr(hr, scale, degradation, generator=generator)
    except SrkitError as exc:
        raise SrkitError(f"{hr_path}: {exc}") from None
    except (RuntimeError, MemoryError) as exc:
        if not is_allocation_failure(exc):
            raise
        raise allocation_error(hr_path, width, height, "degrade") from None


@click.command("degrade", short_help="Make an LR folder from an HR folder.")
@click.argument("hr_dir")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--scale", "-s", type=click.IntRange(min=2), required=True,
              help="Downscaling factor, e.g. 4 or 8.")
@click.option("--degradation", "-d", default="bicubic", show_default=True,
              help="Registered degradation, optionally with parameters: NAME or "
              "NAME:key=value,... (see 'srkit plugins').")
@click.option("--sigma", type=float, default=None,
              help="Blur sigma in HR pixels, for degradations that blur (e.g. blur-bicubic).")
@click.option("--div2k-names", is_flag=True,
              help="Name outputs DIV2K style: 0001.png -> 0001x8.png.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for randomised degradations (the output is reproducible).")
def command(hr_dir: str, out_dir: Path, scale: int, degradation: str, sigma: float | None,
            div2k_names: bool, seed: int) -> None:
    """Write an 8-bit LR PNG for every image in HR_DIR (a folder or a bundled set) into OUT_DIR.

    Each HR image is first cropped at the bottom/right to a multiple of the scale (modcrop),
    so an LR image is exactly HR size // scale; file names are kept (with a .png suffix).
    Unreadable files and images smaller than the scale are skipped with a warning.
    The result pairs with HR_DIR for paired training and benchmarks.
    """
    import torch
    from tqdm import tqdm

    from srkit.data.bundled import resolve_dataset
    from srkit.imageio import list_images, save_image
    from srkit.memory import OutOfMemory

    hr_folder = resolve_dataset(hr_dir)
    hr_paths = list_images(hr_folder)
    check_output_folder(out_dir, "OUT_DIR", inputs=[hr_folder])
    out_names = _output_names(hr_paths, scale, div2k_names)
    degrade = build_degradation(degradation, sigma)
    generator = torch.Generator().manual_seed(seed)
    written = 0
    for hr_path in tqdm(hr_paths, desc="degrade", unit="img", disable=None):
        try:
            lr = _degrade_file(hr_path, scale, degrade, generator)
        except OutOfMemory:
            raise  # the next image would fail too: say so once
        except SrkitError as exc:
            warnings.warn(f"{exc}; skipped", stacklevel=1)
            continue
        save_image(lr, out_dir / out_names[hr_path])
        written += 1
    if not written:
        raise SrkitError(f"{hr_folder}: no image could be degraded")
    click.echo(f"wrote {written} LR image(s) (x{scale}, {degradation}) to {out_dir}")
