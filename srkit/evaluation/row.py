"""One result row of ``srkit bench``: a model on a dataset at a scale, scored and timed.

A typed record, so the formatters, the HTML report and Python callers read fields by name and
a misspelt one is a type error, not a silently empty column. JSON and CSV write every field in
this order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class BenchRow:
    """Means over the dataset's images; ``None`` where a value is unavailable."""

    model: str
    dataset: str
    scale: int
    images: int | None = None
    psnr: float | None = None
    ssim: float | None = None
    #: luma of PSNR/SSIM: "matlab" (rounded, as published tables) or "basicsr"
    y_channel: str | None = None
    lpips: float | None = None
    lpips_net: str | None = None
    #: why ``lpips`` is None
    lpips_unavailable: str | None = None
    params: int | None = None
    #: mean latency per image, after warm-up
    latency_ms: float | None = None
    #: output megapixels per second
    mpix_per_s: float | None = None
    peak_mem_mb: float | None = None
    #: what ``peak_mem_mb`` measures: "cuda_max_allocated" or "process_peak_rss"
    peak_mem_kind: str | None = None
    device: str | None = None
    precision: str | None = None
    self_ensemble: bool | None = None
    tile: int | None = None
    #: the weights file benchmarked (None: a parameter-free model)
    weights: str | None = None

    def field(self, key: str) -> Any:
        """The value of the field named ``key`` (a formatter's column)."""
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
