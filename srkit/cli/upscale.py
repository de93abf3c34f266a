"""``srkit upscale``: super-resolve image files and folders into PNGs with the same names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from srkit.errors import SrkitError, first_informative_line
from srkit.writable import same_path

EPILOG = """\b
Examples:
  srkit upscale --weights model.safetensors photo.jpg more/ --out upscaled/
  srkit upscale --weights 4x_RealESRGAN.pth photo.jpg --out upscaled/
  srkit upscale --weights model.safetensors big.png --out up/ --tile 256 --precision bf16
  srkit upscale --model bicubic --scale 4 photo.jpg --out up/
"""


def collect_inputs(inputs: tuple[Path, ...]) -> list[Path]:
    """The image files named, plus the images directly inside each folder named."""
    from srkit.imageio import is_image_file, list_images

    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files.extend(list_images(item))
        elif item.is_file():
            if not is_image_file(item):
                raise SrkitError(f"{item}: not an image file (by its extension)")
            files.append(item)
        else:
            raise SrkitError(f"{item}: no such file or folder")
    return list(dict.fromkeys(files))


def output_paths(files: list[Path], out: Path) -> list[Path]:
    """``out/<stem>.png`` for each input; two inputs with one output name are an error."""
    targets: dict[Path, Path] = {}
    for file in files:
        target = out / f"{file.stem}.png"
        if target in targets:
            raise SrkitError(f"{file} and {targets[target]} would both be written to {target}")
        if same_path(target, file):
            raise SrkitError(f"{file}: output would overwrite the input; choose another --out")
        targets[target] = file
    return list(targets)


def _model(weights: Path | None, name: str | None, scale: int | None, device):  # noqa: ANN001, ANN202
    if weights is not None:
        if name is not None:
            raise SrkitError("--weights and --model: give one of them")
        from srkit.weights.model_files import load_model_file

        return load_model_file(weights, device, scale=scale)
    if name is None:
        raise SrkitError("--weights FILE is required (or --model bicubic --scale N)")
    if scale is None:
        raise SrkitError(f"--model {name}: needs --scale")
    from srkit.nn.models import build_generator, parameter_free_generators

    free = parameter_free_generators()
    if name not in free:
        raise SrkitError(f"--model {name}: needs --weights FILE (only {', '.join(free)} "
                         "runs without weights)")

    return build_generator(name, scale=scale).to(device).eval()


@click.command("upscale", epilog=EPILOG, short_help="Upscale image files and folders into PNGs.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("upscaled"), show_default=True,
              help="Folder for the PNG results (created if missing).")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="srkit .safetensors weights, or a foreign checkpoint an installed converter "
                   "reads (.pth from ESRGAN, SwinIR, ... with the spandrel extra).")
@click.option("--model", "model_name", default=None, help="A parameter-free model: bicubic.")
@click.option("--scale", type=click.IntRange(min=1), default=None,
              help="Scale for --model; with --weights, checks the weights are for this scale.")
@click.option("--tile", type=click.IntRange(min=1), default=None,
              help="LR tile size in pixels (default: whole image; tiles on CUDA out-of-memory).")
@click.option("--overlap", type=click.IntRange(min=0), default=16, show_default=True,
              help="LR pixels of context around each tile.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
              show_default=True, help="Inference precision (autocast; fp16 on CUDA only).")
@click.option("--self-ensemble", is_flag=True, help="Average the 8 flips/rotations (x8 slower).")
@click.option("--device", default="auto", show_default=True, metavar="DEVICE",
              help="auto, cpu, cuda, cuda:N or mps.")
def command(inputs: tuple[Path, ...], out: Path, weights: Path | None, model_name: str | None,
            scale: int | None, tile: int | None, overlap: int, precision: str,
            self_ensemble: bool, device: str) -> None:
    """Upscale images (files or folders) into PNGs named like their inputs."""
    from tqdm import tqdm

    from srkit.devices import resolve_device
    from srkit.imageio import load_image, save_image, save_pil_image
    from srkit.inference import autocast_context, run_model, upscale_streamed
    from srkit.memory import allocation_error, is_allocation_failure, output_plan
    from srkit.writable import check_output_folder

    files = collect_inputs(inputs)
    targets = output_paths(files, out)
    check_output_folder(out, "--out")
    torch_device = resolve_device(device)
    autocast_context(precision, torch_device)
    model = _model(weights, model_name, scale, torch_device)
    if weights is not None:
        from srkit.evaluation.carried_validation import below_bicubic_warning, read_carried_validation

        warning = below_bicubic_warning(weights, read_carried_validation(weights))
        if warning:
            click.echo(warning, err=True)
    for file, target in tqdm(list(zip(files, targets, strict=True)), desc="upscale", unit="img",
                             disable=None):
        lr = load_image(file).unsqueeze(0).to(torch_device)
        scale_of_model = int(model.scale)
        plan = output_plan(str(file), lr.shape[-1] * scale_of_model, lr.shape[-2] * scale_of_model,
                           torch_device)
        options: dict[str, Any] = dict(tile=tile, overlap=overlap, precision=precision,
                                       self_ensemble=self_ensemble)
        try:
            if plan == "streamed":
                click.echo(f"{file}: the output does not fit in memory whole; assembling it tile "
                           "by tile", err=True)
                save_pil_image(upscale_streamed(model, lr, **options), target)
            else:
                save_image(run_model(model, lr, **options).clamp_(0, 1), target)
        except (RuntimeError, MemoryError) as exc:
            if is_allocation_failure(exc):
                raise allocation_error(file, lr.shape[-1], lr.shape[-2],
                                       f"upscale (x{scale_of_model}, try --tile 256)") from None
            reason = first_informative_line(exc)
            raise SrkitError(f"{file}: the model failed on this {lr.shape[-1]}x{lr.shape[-2]} "
                             f"image ({reason})") from None
    click.echo(f"wrote {len(targets)} image(s) to {out}", err=True)
