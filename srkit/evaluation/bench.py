"""The benchmark harness behind ``srkit bench``: models x datasets x scales -> result rows.

Each row holds the protocol's PSNR/SSIM (:mod:`srkit.evaluation.protocol`), LPIPS, the
parameter count and speed (mean latency per image, output megapixels per second, peak
memory), measured after a warm-up, with the device and precision that produced them.
Everything the user named is checked before the first image is processed, so a typo fails
in a second, not after an hour of benchmarking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srkit.errors import SrkitError
from srkit.evaluation.datasets import resolve_datasets, usable_images
from srkit.evaluation.options import BenchOptions, ImageHook
from srkit.evaluation.row import BenchRow
from srkit.evaluation.runs import build_model, check_model, check_weights_found, select_weights
from srkit.evaluation.scoring import bench_one


@dataclass
class BenchResult:
    rows: list[BenchRow]
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
    rows: list[BenchRow] = []
    images: list[dict[str, Any]] = []
    for name, scale, weights in plan:
        model = build_model(name, scale, weights, options.device)
        for dataset in datasets:
            row, per_image = bench_one(name, model, usable[(dataset.label, scale)], scale, options,
                                       on_image)
            row.weights = str(weights) if weights is not None else None
            rows.append(row)
            images.extend(per_image)
        del model
    order = {d.label: i for i, d in enumerate(datasets)}
    rows.sort(key=lambda r: (order[r.dataset], options.scales.index(r.scale),
                             options.models.index(r.model)))
    return BenchResult(rows, images)
