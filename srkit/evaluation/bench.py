"""The benchmark harness behind ``srkit bench``: models x datasets x scales -> result rows.

Each row holds the protocol's PSNR/SSIM (:mod:`srkit.evaluation.protocol`), LPIPS, the
parameter count and speed (mean latency per image, output megapixels per second, peak
memory), measured after a warm-up, with the device and precision that produced them.
Everything the user named is checked before the first image is processed, so a typo fails
in a second, not after an hour of benchmarking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from srkit.errors import SrkitError
from srkit.evaluation.datasets import resolve_datasets, usable_images
from srkit.evaluation.lpips_metric import Lpips
from srkit.evaluation.runs import build_model, check_model, check_weights_found, select_weights
from srkit.evaluation.scoring import bench_one
from srkit.metrics.color import DEFAULT_Y_MODE
from srkit.training import RUNS_DIR

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
    runs_dir: Path = RUNS_DIR
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


@dataclass
class BenchResult:
    rows: list[dict[str, Any]]
    images: list[dict[str, Any]]


def run_bench(options: BenchOptions, on_image: ImageHook | None = None) -> BenchResult:
    """Benchmark every model on every dataset at every scale (validated up front)."""
    if not options.models:
        raise SrkitError("--models: no model to benchmark")
    unknown = sorted(set(options.weights) - set(options.models))
    if unknown:
        raise SrkitError(f"--weights names {', '.join(unknown)}, which --models does not list")
    datasets = resolve_datasets(options.datasets)
    usable = usable_images(datasets, options.scales)
    check_weights_found(options.models, options.weights, options.runs_dir, options.scales)
    plan = [(name, scale, select_weights(name, scale, options.weights, options.runs_dir))
            for scale in options.scales for name in options.models]
    # every file is checked now, so one that does not fit its architecture fails before the
    # first image; the models are built one at a time below, so only one is ever in memory
    for name, scale, weights in plan:
        check_model(name, scale, weights)
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
