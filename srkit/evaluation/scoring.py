"""Scoring and timing one model on one dataset at one scale: one ``srkit bench`` row.

PSNR/SSIM follow :mod:`srkit.evaluation.protocol`; speed is measured after a warm-up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from srkit.errors import SrkitError
from srkit.evaluation.datasets import Dataset, skip_warning
from srkit.evaluation.row import BenchRow
from srkit.evaluation.speed import SpeedMeter, device_name
from srkit.inference import run_model
from srkit.memory import OutOfMemory, allocation_error, is_allocation_failure

if TYPE_CHECKING:
    from srkit.evaluation.options import BenchOptions, ImageHook


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
              on_image: ImageHook | None = None) -> tuple[BenchRow, list[dict[str, Any]]]:
    """Score and time one model on one dataset at one scale: (row, per-image results).

    An image that does not fit in memory stops the benchmark (a mean without it would mislead).
    """
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
        except OutOfMemory:
            raise
        except SrkitError as exc:  # e.g. truncated after a readable header
            skip_warning(_naming(path, exc))
            continue
        try:
            scores, sr, warmed_up = _score(path, lr, hr, scale, options, meter, infer, warmed_up)
        except (RuntimeError, MemoryError) as exc:
            if not is_allocation_failure(exc):
                raise
            raise allocation_error(path, hr.shape[-1], hr.shape[-2], f"score x{scale}") from None
        per_image.append({"model": name, "dataset": dataset.label, "scale": scale,
                          "image": path.name, **scores})
        if on_image is not None:
            on_image(dataset.label, scale, name, path, lr, sr, hr)
    return _row(name, model, dataset, scale, options, meter, per_image), per_image


def _score(path: Path, lr: Tensor, hr: Tensor, scale: int, options: BenchOptions,
           meter: SpeedMeter, infer: Callable[[Tensor], Tensor],
           warmed_up: bool) -> tuple[dict[str, float], Tensor, bool]:
    """One image's scores and 8-bit SR (timed, after the warm-up runs on the first image)."""
    from srkit.evaluation.protocol import evaluate, is_grey_file
    from srkit.metrics import quantize

    if not warmed_up:
        for _ in range(options.warmup):
            infer(lr)
    sr = meter.timed(lambda: infer(lr), lambda out: out.shape[-2] * out.shape[-1])
    sr = quantize(sr.clamp(0, 1))
    scores = {key: float(value[0]) for key, value in
              evaluate(sr, hr, scale, grey=is_grey_file(path), y_channel=options.y_channel).items()}
    if options.lpips is not None:
        scores["lpips"] = float(options.lpips(sr, hr)[0])
    return scores, sr, True


def _row(name: str, model: nn.Module, dataset: Dataset, scale: int, options: BenchOptions,
         meter: SpeedMeter, per_image: list[dict[str, Any]]) -> BenchRow:
    from srkit.nn.models import count_parameters

    if not per_image:
        raise SrkitError(f"{dataset.folder}: no image could be read for x{scale}")
    lpips_values = [r["lpips"] for r in per_image if "lpips" in r]
    row = BenchRow(
        model=name,
        dataset=dataset.label,
        scale=scale,
        images=len(per_image),
        psnr=_mean([r["psnr"] for r in per_image]),
        ssim=_mean([r["ssim"] for r in per_image]),
        y_channel=options.y_channel,
        lpips=_mean(lpips_values),
        lpips_net=options.lpips.net if options.lpips is not None else None,
        lpips_unavailable=(options.lpips_unavailable or "not computed")
        if options.lpips is None else None,
        params=count_parameters(model),
        **meter.summary(),
        device=device_name(options.device),
        precision=options.precision,
        self_ensemble=options.self_ensemble,
        tile=options.tile,
    )
    return row
