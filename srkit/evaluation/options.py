"""What ``srkit bench`` is asked to do: the options of a benchmark and the per-image hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from srkit.metrics.color import DEFAULT_Y_MODE
from srkit.run_folder import RUNS_DIR

if TYPE_CHECKING:
    from srkit.evaluation.lpips_metric import Lpips

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
