"""The ``--report DIR`` page: the results table and, per image, HR / bicubic / model crops.

Numbers hide artefacts that eyes catch at once, so the page shows for each image the same
region cut from HR, the bicubic baseline and every model, side by side. The region is chosen
deterministically: the most textured (highest luma variance) window of the HR image.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor
from torch.nn import functional as F

from srkit.atomic_files import atomic_write_text
from srkit.evaluation.formats import COLUMNS, best_cells, format_json, lpips_note
from srkit.evaluation.row import BenchRow
from srkit.imageio import save_image

CROP_SIZE = 128
DISPLAY_SIZE = 192


def texture_crop_box(hr: Tensor, size: int = CROP_SIZE) -> tuple[int, int, int]:
    """(top, left, side) of the ``size`` window with the highest luma variance in (1,3,H,W) HR."""
    from srkit.metrics import rgb_to_y

    height, width = hr.shape[-2:]
    side = min(size, height, width)
    luma = rgb_to_y(hr.float())
    stride = max(side // 4, 1)
    mean = F.avg_pool2d(luma, side, stride)
    variance = F.avg_pool2d(luma * luma, side, stride) - mean * mean
    index = int(variance.flatten().argmax())
    row, column = divmod(index, variance.shape[-1])
    return row * stride, column * stride, side


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


@dataclass
class ImageCrops:
    dataset: str
    scale: int
    image: str
    files: dict[str, str] = field(default_factory=dict)  # label -> crop file (relative)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class ReportCollector:
    """An :data:`srkit.evaluation.bench.ImageHook` that saves the crops as images arrive."""

    folder: Path
    entries: dict[tuple[str, int, str], ImageCrops] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.folder / "crops").mkdir(parents=True, exist_ok=True)

    def __call__(self, dataset: str, scale: int, model: str, path: Path, lr: Tensor,
                 sr: Tensor, hr: Tensor) -> None:
        key = (dataset, scale, path.name)
        entry = self.entries.get(key)
        top, left, side = texture_crop_box(hr)
        if entry is None:
            entry = self.entries[key] = ImageCrops(dataset, scale, path.name)
            self._save(entry, "HR", hr, (top, left, side))
            if model != "bicubic":
                self._save_bicubic(entry, path, lr, hr, (top, left, side))
        self._save(entry, model, sr, (top, left, side))

    def _save_bicubic(self, entry: ImageCrops, path: Path, lr: Tensor, hr: Tensor,
                      box: tuple[int, int, int]) -> None:
        """The baseline crop, scored by the protocol like every model (quantized, Y channel)."""
        from srkit.evaluation.protocol import evaluate, is_grey_file
        from srkit.metrics import quantize
        from srkit.nn.baseline import BicubicUpsampler

        bicubic = quantize(BicubicUpsampler(entry.scale)(lr).clamp(0, 1))
        self._save(entry, "bicubic", bicubic, box)
        scores = evaluate(bicubic, hr, entry.scale, grey=is_grey_file(path))
        entry.scores["bicubic"] = {key: float(value[0]) for key, value in scores.items()}

    def record_scores(self, images: list[dict[str, Any]]) -> None:
        for result in images:
            entry = self.entries.get((result["dataset"], result["scale"], result["image"]))
            if entry is not None:
                entry.scores[result["model"]] = {k: result[k] for k in ("psnr", "ssim", "lpips")
                                                 if k in result}

    def _save(self, entry: ImageCrops, label: str, image: Tensor, box: tuple[int, int, int]) -> None:
        top, left, side = box
        stem = _slug(f"{entry.dataset}_x{entry.scale}_{Path(entry.image).stem}_{label}")
        relative = f"crops/{stem}.png"
        save_image(image[0, :, top:top + side, left:left + side].cpu(), self.folder / relative)
        entry.files[label] = relative


_STYLE = f"""
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table.results {{ border-collapse: collapse; margin-bottom: 2em; }}
table.results th, table.results td {{ border: 1px solid #ccc; padding: 4px 8px;
  text-align: right; }}
table.results td:nth-child(-n+2), table.results th {{ text-align: left; }}
table.results td.best {{ font-weight: bold; background: #e6f4e6; }}
.strip {{ display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 1.5em; }}
figure {{ margin: 0; text-align: center; font-size: 0.85em; }}
figure img {{ width: {DISPLAY_SIZE}px; height: {DISPLAY_SIZE}px; image-rendering: pixelated;
  border: 1px solid #999; }}
"""


def _results_table(rows: list[BenchRow]) -> str:
    head = "".join(f"<th>{html.escape(header)}</th>" for header, _, _ in COLUMNS)
    best = best_cells(rows)

    def cell(index: int, key: str, text: str) -> str:
        text = html.escape(text)
        return f'<td class="best">{text}</td>' if (index, key) in best else f"<td>{text}</td>"

    body = "".join(
        "<tr>" + "".join(cell(i, key, render(row.field(key))) for _, key, render in COLUMNS)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f'<table class="results"><tr>{head}</tr>{body}</table>'


def _caption(label: str, scores: dict[str, float] | None) -> str:
    if not scores:
        return html.escape(label)
    numbers = f"{scores['psnr']:.2f} dB / {scores['ssim']:.4f}"
    if scores.get("lpips") is not None:
        numbers += f" / LPIPS {scores['lpips']:.3f}"
    return f"{html.escape(label)}<br>{numbers}"


def _strip(entry: ImageCrops) -> str:
    figures = "".join(
        f'<figure><img src="{html.escape(file)}" alt="{html.escape(label)}">'
        f"<figcaption>{_caption(label, entry.scores.get(label))}</figcaption></figure>"
        for label, file in entry.files.items()
    )
    title = html.escape(f"{entry.dataset} x{entry.scale}: {entry.image}")
    return f'<h3>{title}</h3><div class="strip">{figures}</div>'


def write_report(folder: Path, rows: list[BenchRow], images: list[dict[str, Any]],
                 collector: ReportCollector) -> Path:
    """Write ``index.html`` and ``results.json`` (rows) and ``images.json`` (per image)."""
    collector.record_scores(images)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "results.json", format_json(rows) + "\n")
    atomic_write_text(folder / "images.json", json.dumps(images, indent=2) + "\n")
    device = html.escape(", ".join(dict.fromkeys(str(r.device) for r in rows)))
    luma = html.escape(", ".join(dict.fromkeys(str(r.y_channel) for r in rows)))
    strips = "".join(_strip(entry) for entry in collector.entries.values())
    note = lpips_note(rows)
    notes = f"<p>{html.escape(note)}</p>" if note else ""
    page = (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>srkit benchmark</title>"
        f"<style>{_STYLE}</style></head><body><h1>srkit benchmark</h1>"
        f"<p>Device: {device}. PSNR/SSIM on the Y channel ({luma}) with a scale-pixel border "
        f"crop; crops are {CROP_SIZE}px HR regions (highest texture), shown enlarged; "
        "captions score the whole image. Bold: best per dataset and scale.</p>"
        f"{_results_table(rows)}{notes}<h2>Crops</h2>{strips}"
        '<p>Raw numbers: <a href="results.json">results.json</a>, '
        '<a href="images.json">images.json</a>.</p></body></html>\n'
    )
    index = folder / "index.html"
    atomic_write_text(index, page)
    return index
