"""The benchmark harness behind ``srkit bench``: models x datasets x scales -> result rows.

Each row holds the protocol's PSNR/SSIM (:mod:`srkit.evaluation.protocol`), LPIPS, the
parameter count and speed (mean latency per image, output megapixels per second, peak
memory), measured after a warm-up, with the device and precision that produced them.
Everything the user named is checked before the first image is processed, so a typo fails
in a second, not after an hour of benchmarking.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from srkit.errors import SrkitError
from srkit.evaluation.lpips_metric import Lpips
from srkit.evaluation.speed import SpeedMeter, device_name
from srkit.inference import run_model
from srkit.metrics.color import DEFAULT_Y_MODE

#: models that need no weights file: they are built from the scale alone.
PARAMETER_FREE = ("bicubic",)
SSIM_WINDOW = 11
RUN_WEIGHTS_NAME = "model.safetensors"

#: called for every evaluated image: (dataset, scale, model, image path, lr, sr, hr), with
#: lr (1,3,h,w), sr (1,3,H,W) clamped, hr (1,3,H,W) modcropped, all in [0, 1] on the device.
ImageHook = Callable[[str, int, str, Path, Tensor, Tensor, Tensor], None]


@dataclass
class BenchOptions:
    """What to benchmark and how; built by ``srkit bench`` or directly from Python."""

    models: list[str]
    datasets: list[str]
    scales: list[int]
    weights: dict[str, list[Path]] = field(default_factory=dict)
    runs_dir: Path = Path("runs")
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"
    tile: int | None = None
    self_ensemble: bool = False
    lpips: Lpips | None = None
    #: why ``lpips`` is None (shown under the table)
    lpips_unavailable: str | None = None
    warmup: int = 1
    progress: bool = True
    #: luma of the PSNR/SSIM: "matlab" (rounded, as published tables) or "basicsr" (unrounded)
    y_channel: str = DEFAULT_Y_MODE


@dataclass(frozen=True)
class Dataset:
    label: str
    folder: Path
    images: list[Path]


@dataclass
class BenchResult:
    rows: list[dict[str, Any]]
    images: list[dict[str, Any]]


def parse_weights_option(text: str | None) -> dict[str, list[Path]]:
    """``"srgan=a.safetensors,drn=b.safetensors"`` -> ``{"srgan": [a], "drn": [b]}``.

    A name may appear more than once (one file per scale); the file matching the scale is used.
    """
    pairs: dict[str, list[Path]] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, file = item.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise SrkitError(f"--weights {item!r}: expected NAME=FILE (e.g. srgan=model.safetensors)")
        pairs.setdefault(name.strip().lower(), []).append(Path(file.strip()).expanduser())
    return pairs


def installed_model_names() -> list[str]:
    """Every name ``--models`` accepts without ``--weights``: generators and recipes."""
    from srkit.plugins import get_registry

    registry = get_registry()
    return sorted(set(registry.names("generator")) | set(registry.names("recipe")))


def run_weights(name: str, runs_dir: Path) -> list[Path]:
    """``<runs_dir>/<name>*/model.safetensors`` files, newest first."""
    if not runs_dir.is_dir():
        return []
    found = [p for p in runs_dir.glob(f"{name}*/{RUN_WEIGHTS_NAME}") if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def default_models(weights: dict[str, list[Path]], runs_dir: Path, scales: list[int]
                   ) -> list[str]:
    """``bicubic``, the models given ``--weights``, and every installed one whose run folders
    hold weights for all ``scales`` (a run for another scale is no reason to fail)."""
    names = ["bicubic", *weights]
    for name in installed_model_names():
        found = run_weights(name, runs_dir)
        if name not in names and found:
            found_scales = {_scale_of_run_weights(path) for path in found}
            if None in found_scales or set(scales) <= found_scales:
                names.append(name)
    return list(dict.fromkeys(names))


def _scale_of_run_weights(path: Path) -> int | None:
    """The file's scale (None if unrecorded); -1 for an unreadable file, which is skipped."""
    try:
        return _weights_scale(path)
    except SrkitError:
        return -1


def _weights_scale(path: Path) -> int | None:
    from srkit.model_files import model_file_scale

    return model_file_scale(path)


def select_weights(name: str, scale: int, options: BenchOptions) -> Path | None:
    """The weights file benchmarked as ``name`` at ``scale``; None for parameter-free models.

    Raises a one-line error if no file is found, or if every candidate is for another scale.
    """
    given = options.weights.get(name)
    candidates = given if given is not None else run_weights(name, options.runs_dir)
    if not candidates:
        if name in PARAMETER_FREE:
            return None
        if name not in installed_model_names():
            raise SrkitError(
                f"unknown model {name!r}; installed: {', '.join(installed_model_names())} "
                "(or pass --weights NAME=FILE)"
            )
        raise SrkitError(
            f"{name}: no weights found in {options.runs_dir / (name + '*') / RUN_WEIGHTS_NAME}; "
            f"pass --weights {name}=FILE or train one with 'srkit train {name}'"
        )
    scales = [_weights_scale(path) for path in candidates]
    for path, file_scale in zip(candidates, scales, strict=True):
        if file_scale in (None, scale):
            return path
    if len(candidates) == 1:
        raise SrkitError(f"{candidates[0]}: weights are for x{scales[0]}, not x{scale}")
    found = ", ".join(f"{p} (x{s})" for p, s in zip(candidates, scales, strict=True))
    raise SrkitError(f"{name}: no weights for x{scale}; found {found}")


def check_weights_found(options: BenchOptions) -> None:
    """Name every model without weights at once, each with the command that trains it."""
    installed = installed_model_names()
    unknown = [n for n in options.models if n not in PARAMETER_FREE and n not in options.weights
               and n not in installed]
    if unknown:
        raise SrkitError(f"unknown model {unknown[0]!r}; installed: {', '.join(installed)} "
                         "(or pass --weights NAME=FILE)")
    missing = [n for n in options.models if n not in PARAMETER_FREE and n not in options.weights
               and not run_weights(n, options.runs_dir)]
    if not missing:
        return
    commands = "; ".join(f"'srkit train {n} --scale {s}'" for n in missing for s in options.scales)
    raise SrkitError(f"no weights found for {', '.join(missing)} in "
                     f"{options.runs_dir / 'NAME*' / RUN_WEIGHTS_NAME}; train them ({commands}) "
                     "or pass --weights NAME=FILE")


def build_model(name: str, scale: int, weights: Path | None, device: torch.device) -> nn.Module:
    """The generator benchmarked as ``name``: from ``weights``, or built for parameter-free ones."""
    if weights is None:
        from srkit.models import build_generator

        return build_generator(name, scale=scale).to(device).eval()
    from srkit.model_files import load_model_file

    model = load_model_file(weights, device, scale=scale)
    if getattr(model, "scale", scale) != scale:
        raise SrkitError(f"{weights}: model upscales x{model.scale}, not x{scale}")
    return model


def resolve_datasets(names: list[str]) -> list[Dataset]:
    """Bundled names (``set5``) or folders, each with its sorted image list (never empty)."""
    from srkit.data import resolve_dataset
    from srkit.imageio import list_images

    datasets = []
    for name in names:
        folder = resolve_dataset(name)
        is_path = Path(name).expanduser().is_dir()
        label = folder.name if is_path else name.lower()
        datasets.append(Dataset(label, folder, list_images(folder)))
    return datasets


def minimum_hr_size(scale: int) -> int:
    """Smallest HR side the protocol can score: SSIM's window must fit after the border crop."""
    return 2 * scale + SSIM_WINDOW


def usable_images(datasets: list[Dataset], scales: list[int]) -> dict[tuple[str, int], Dataset]:
    """Per (dataset label, scale), the images the protocol can score, read from headers only.

    An unreadable image, or one too small for a scale, is skipped with a warning naming it;
    a dataset left with no image at a scale is a one-line error.
    """
    from srkit.imageio import image_size

    usable: dict[tuple[str, int], Dataset] = {}
    for dataset in datasets:
        sizes: dict[Path, tuple[int, int]] = {}
        unreadable: list[str] = []
        for path in dataset.images:
            try:
                sizes[path] = image_size(path)
            except SrkitError as exc:
                unreadable.append(str(exc))
                _skip_warning(str(exc))
        for scale in scales:
            kept, skipped = [], list(unreadable)
            for path, size in sizes.items():
                problem = _size_problem(path, size, scale)
                if problem is None:
                    kept.append(path)
                else:
                    skipped.append(problem)
                    _skip_warning(problem)
            if not kept:
                raise SrkitError(f"{dataset.folder}: no image can be scored at x{scale} ({skipped[0]})")
            usable[(dataset.label, scale)] = Dataset(dataset.label, dataset.folder, kept)
    return usable


def _size_problem(path: Path, size: tuple[int, int], scale: int) -> str | None:
    height, width = size
    need = minimum_hr_size(scale)
    if min(height - height % scale, width - width % scale) < need:
        return (f"{path}: {width}x{height} image is too small for x{scale} "
                f"(the protocol needs at least {need}x{need})")
    return None


def _skip_warning(problem: str) -> None:
    warnings.warn(f"{problem}; skipped", stacklevel=3)


def _load_pair(path: Path, scale: int, device: torch.device) -> tuple[Tensor, Tensor]:
    from srkit.evaluation.protocol import make_lr, modcrop
    from srkit.imageio import load_image

    hr = modcrop(load_image(path).unsqueeze(0).to(device), scale)
    return make_lr(hr, scale), hr


def _naming(path: Path, exc: SrkitError) -> str:
    """The error's message, prefixed with the file unless it names it already."""
    return str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def bench_one(name: str, model: nn.Module, dataset: Dataset, scale: int, options: BenchOptions,
              on_image: ImageHook | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score and time one model on one dataset at one scale: (row, per-image results)."""
    from srkit.evaluation.protocol import evaluate, is_grey_file
    from srkit.metrics import quantize
    from srkit.models import count_parameters

    def infer(lr: Tensor) -> Tensor:
        return run_model(model, lr, tile=options.tile, precision=options.precision,
                         self_ensemble=options.self_ensemble)

    meter = SpeedMeter(options.device)
    warmed_up = False
    per_image = []
    progress = tqdm(dataset.images, desc=f"{name} {dataset.label} x{scale}", unit="img",
                    leave=False, file=sys.stderr, disable=None if options.progress else True)
    for path in progress:
        try:
            lr, hr = _load_pair(path, scale, options.device)
        except SrkitError as exc:  # e.g. truncated after a readable header
            _skip_warning(_naming(path, exc))
            continue
        if not warmed_up:
            for _ in range(options.warmup):
                infer(lr)
            warmed_up = True
        sr = meter.timed(lambda lr=lr: infer(lr),  # type: ignore[misc]
                         lambda out: out.shape[-2] * out.shape[-1])
        sr = quantize(sr.clamp(0, 1))
        scores = {key: float(value[0]) for key, value in
                  evaluate(sr, hr, scale, grey=is_grey_file(path),
                           y_channel=options.y_channel).items()}
        if options.lpips is not None:
            scores["lpips"] = float(options.lpips(sr, hr)[0])
        per_image.append({"model": name, "dataset": dataset.label, "scale": scale,
                          "image": path.name, **scores})
        if on_image is not None:
            on_image(dataset.label, scale, name, path, lr, sr, hr)
    if not per_image:
        raise SrkitError(f"{dataset.folder}: no image could be read for x{scale}")
    lpips_values = [r["lpips"] for r in per_image if "lpips" in r]
    row = {
        "model": name,
        "dataset": dataset.label,
        "scale": scale,
        "images": len(per_image),
        "psnr": _mean([r["psnr"] for r in per_image]),
        "ssim": _mean([r["ssim"] for r in per_image]),
        "y_channel": options.y_channel,
        "lpips": _mean(lpips_values),
        "lpips_net": options.lpips.net if options.lpips is not None else None,
        "lpips_unavailable": (options.lpips_unavailable or "not computed")
        if options.lpips is None else None,
        "params": count_parameters(model),
        **meter.summary(),
        "device": device_name(options.device),
        "precision": options.precision,
        "self_ensemble": options.self_ensemble,
        "tile": options.tile,
    }
    return row, per_image


def run_bench(options: BenchOptions, on_image: ImageHook | None = None) -> BenchResult:
    """Benchmark every model on every dataset at every scale (validated up front)."""
    if not options.models:
        raise SrkitError("--models: no model to benchmark")
    unknown = sorted(set(options.weights) - set(options.models))
    if unknown:
        raise SrkitError(f"--weights names {', '.join(unknown)}, which --models does not list")
    datasets = resolve_datasets(options.datasets)
    usable = usable_images(datasets, options.scales)
    check_weights_found(options)
    plan = [(name, scale, select_weights(name, scale, options))
            for scale in options.scales for name in options.models]
    for name, scale, weights in plan:  # a file that does not fit its architecture fails now
        if weights is not None:
            build_model(name, scale, weights, torch.device("cpu"))
    rows: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for name, scale, weights in plan:
        model = build_model(name, scale, weights, options.device)
        for dataset in datasets:
            row, per_image = bench_one(name, model, usable[(dataset.label, scale)], scale, options,
                                       on_image)
            row["weights"] = str(weights) if weights is not None else None
            rows.append(row)
            images.extend(per_image)
        del model
    order = {d.label: i for i, d in enumerate(datasets)}
    rows.sort(key=lambda r: (order[r["dataset"]], options.scales.index(r["scale"]),
                             options.models.index(r["model"])))
    return BenchResult(rows, images)
