"""``srkit bench``: PSNR, SSIM, LPIPS, size and speed of models on benchmark datasets."""

from __future__ import annotations

from pathlib import Path

import click

from srkit.errors import SrkitError
from srkit.run_folder import RUNS_DIR

#: the reference row every benchmark table carries for each scale
BASELINE_MODEL = "bicubic"

EPILOG = """\b
Examples:
  srkit bench
  srkit bench --models bicubic --datasets set5,set14 --scales 2,4,8 --format json
  srkit bench --models bicubic,srgan,drn \\
      --weights srgan=runs/srgan_x4/model.safetensors,drn=drn_s_x4.safetensors \\
      --datasets set5,set14,path/to/Urban100 --scales 4 --format md --report report/
"""


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _scales(text: str) -> list[int]:
    try:
        scales = [int(part) for part in _split(text)]
    except ValueError:
        raise SrkitError(f"--scales {text!r}: expected integers such as 2,4,8") from None
    if not scales or any(s < 1 for s in scales):
        raise SrkitError(f"--scales {text!r}: expected positive integers such as 2,4,8")
    return list(dict.fromkeys(scales))


def with_baseline(models: list[str], keep: bool, named: bool) -> list[str]:
    """``models`` with the bicubic reference first (every scale then has its row), or without
    it for ``--no-baseline`` unless the user named it in ``--models``."""
    if keep:
        return list(dict.fromkeys([BASELINE_MODEL, *models]))
    if named:
        return models
    kept = [name for name in models if name != BASELINE_MODEL]
    if not kept:
        raise SrkitError("--no-baseline: no other model has weights here; name one with "
                         "--models NAME --weights NAME=FILE")
    return kept


def _lpips(enabled: bool, net: str, weights: Path | None, device):  # noqa: ANN001, ANN202
    """(the LPIPS metric, None) or (None, why it is unavailable)."""
    if not enabled:
        return None, "skipped (--no-lpips)"
    from srkit.evaluation.lpips_metric import LpipsUnavailable, load_lpips

    try:
        return load_lpips(net, weights=weights, device=device), None
    except LpipsUnavailable as exc:
        click.echo(f"warning: LPIPS unavailable: {exc}", err=True)
        return None, str(exc)


@click.command("bench", epilog=EPILOG,
               short_help="Score models (PSNR, SSIM, LPIPS, speed) on benchmark sets.")
@click.option("--models", default=None, metavar="A,B",
              help="Models to compare: bicubic, any installed generator/recipe, or a --weights "
                   "name. Default: bicubic plus every model with weights found.")
@click.option("--weights", "weights_text", default=None, metavar="NAME=FILE,...",
              help="Weights per model (a name may repeat, one file per scale). Default: the "
                   "newest RUNS/NAME*/model.safetensors.")
@click.option("--datasets", default="set5,set14", show_default=True, metavar="A,B",
              help="Bundled sets (set5, set14) or folders of HR images.")
@click.option("--scales", default="4", show_default=True, metavar="S,...", help="Scale factors.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "md"]),
              default="table", show_default=True, help="Output format on stdout.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write an HTML page with the table and image crops here.")
@click.option("--self-ensemble", is_flag=True, help="x8 flip/rotation test-time augmentation.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
              show_default=True, help="Inference precision (autocast; fp16 on CUDA only).")
@click.option("--tile", type=click.IntRange(min=1), default=None,
              help="Process the LR image in tiles of this many pixels.")
@click.option("--device", default="auto", show_default=True, metavar="DEVICE",
              help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--lpips-net", type=click.Choice(["alex", "vgg"]), default="alex",
              show_default=True, help="LPIPS backbone.")
@click.option("--lpips-weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="torchvision ImageNet weights of the LPIPS backbone (default: torch hub cache).")
@click.option("--no-lpips", is_flag=True, help="Skip LPIPS.")
@click.option("--no-baseline", is_flag=True,
              help="Leave out the bicubic reference row that every scale gets otherwise.")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False, path_type=Path),
              default=RUNS_DIR, show_default=True, help="Where to look for trained runs.")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True,
              help="Untimed runs on the first image before timing.")
@click.option("--y-channel", type=click.Choice(["matlab", "basicsr"]), default="matlab",
              show_default=True,
              help="Luma scored: rounded to integers as MATLAB (published tables) or unrounded "
                   "as BasicSR.")
def command(models: str | None, weights_text: str | None, datasets: str, scales: str, fmt: str,
            report_dir: Path | None, self_ensemble: bool, precision: str, tile: int | None,
            device: str, lpips_net: str, lpips_weights: Path | None, no_lpips: bool,
            no_baseline: bool, runs_dir: Path, warmup: int, y_channel: str) -> None:
    """Benchmark models: PSNR/SSIM (Y channel, scale-pixel border), LPIPS, parameters, speed."""
    from srkit.devices import resolve_device
    from srkit.evaluation.bench import BenchOptions, run_bench
    from srkit.evaluation.carried_validation import below_bicubic_warning, read_carried_validation
    from srkit.evaluation.formats import format_rows
    from srkit.evaluation.runs import default_models, parse_weights_option
    from srkit.inference import autocast_context
    from srkit.writable import check_output_folder

    if report_dir is not None:  # before any work: a long benchmark must not fail at its end
        check_output_folder(report_dir, "--report")
    weights = parse_weights_option(weights_text)
    scale_list = _scales(scales)
    model_names = with_baseline([m.lower() for m in _split(models)] if models is not None
                                else default_models(weights, runs_dir, scale_list),
                                keep=not no_baseline, named=models is not None)
    torch_device = resolve_device(device)
    autocast_context(precision, torch_device)  # fp16 on CPU fails before any work
    lpips, lpips_unavailable = _lpips(not no_lpips, lpips_net, lpips_weights, torch_device)
    options = BenchOptions(
        models=list(dict.fromkeys(model_names)), datasets=_split(datasets), scales=scale_list,
        weights=weights, runs_dir=runs_dir, device=torch_device, precision=precision, tile=tile,
        self_ensemble=self_ensemble, warmup=warmup, y_channel=y_channel,
        lpips=lpips, lpips_unavailable=lpips_unavailable,
    )
    collector = None
    if report_dir is not None:
        from srkit.evaluation.report import ReportCollector

        collector = ReportCollector(report_dir)
    result = run_bench(options, on_image=collector)
    click.echo(format_rows(result.rows, fmt))
    for weights_file in dict.fromkeys(row.weights for row in result.rows if row.weights):
        warning = below_bicubic_warning(weights_file, read_carried_validation(weights_file))
        if warning:
            click.echo(warning, err=True)
    if models is None and model_names == ["bicubic"]:
        click.echo("hint: only the bicubic baseline has weights here; add a model with "
                   "--models NAME --weights NAME=FILE (or train one: srkit train NAME)", err=True)
    if collector is not None and report_dir is not None:
        from srkit.evaluation.report import write_report

        index = write_report(report_dir, result.rows, result.images, collector)
        click.echo(f"report: {index}", err=True)
