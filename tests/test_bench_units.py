"""Pieces of the benchmark: option parsing, run-folder discovery, speed meter, formats, crops."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from srkit.errors import SrkitError
from srkit.evaluation.formats import format_json, format_markdown, format_table
from srkit.evaluation.report import texture_crop_box
from srkit.evaluation.row import BenchRow
from srkit.evaluation.runs import parse_weights_option, run_weights
from srkit.evaluation.speed import SpeedMeter


def test_weights_option_pairs_names_with_files_and_allows_repeats() -> None:
    parsed = parse_weights_option("srgan=a.safetensors, DRN=b.safetensors,drn=c.safetensors")
    assert parsed == {"srgan": [Path("a.safetensors")],
                      "drn": [Path("b.safetensors"), Path("c.safetensors")]}
    assert parse_weights_option(None) == {}


@pytest.mark.parametrize("text", ["srgan", "=a.safetensors", "srgan="])
def test_weights_option_without_a_pair_is_an_error(text: str) -> None:
    with pytest.raises(SrkitError, match="expected NAME=FILE"):
        parse_weights_option(text)


def test_run_weights_are_newest_first_and_ignore_other_names(tmp_path: Path) -> None:
    files = []
    for index, folder in enumerate(["srgan-1", "srgan-2", "drn-1"]):
        path = tmp_path / folder / "model.safetensors"
        path.parent.mkdir()
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
        files.append(path)
    assert run_weights("srgan", tmp_path) == [files[1], files[0]]
    assert run_weights("srgan", tmp_path / "missing") == []


def test_speed_meter_reports_mean_latency_and_output_megapixels() -> None:
    meter = SpeedMeter(torch.device("cpu"))
    for _ in range(2):
        meter.timed(lambda: torch.zeros(1, 3, 100, 200), lambda t: t.shape[-2] * t.shape[-1])
    summary = meter.summary()
    assert meter.calls == 2 and meter.output_pixels == 40_000
    assert summary["latency_ms"] == pytest.approx(1000 * meter.seconds / 2)
    assert summary["mpix_per_s"] == pytest.approx(0.04 / meter.seconds)
    assert summary["peak_mem_kind"] == "process_peak_rss" and summary["peak_mem_mb"] > 0


ROWS = [
    BenchRow(model="bicubic", dataset="set5", scale=4, psnr=28.4312, ssim=0.81127,
             lpips=None, params=0, latency_ms=12.34, mpix_per_s=5.6, peak_mem_mb=700.0,
             device="cpu", precision="fp32", peak_mem_kind="process_peak_rss"),
    BenchRow(model="perfect", dataset="set5", scale=4, psnr=math.inf, ssim=1.0,
             lpips=0.0, params=1_550_000, latency_ms=1.0, mpix_per_s=9.0,
             peak_mem_mb=800.0, device="cpu", precision="fp32",
             peak_mem_kind="process_peak_rss"),
]


def test_table_aligns_columns_and_shows_missing_values_as_na() -> None:
    lines = format_table(ROWS).splitlines()
    assert len({len(line) for line in lines[:2]}) == 1
    assert lines[2].split()[:6] == ["bicubic", "set5", "x4", "28.43", "0.8113", "n/a"]
    assert "1.55M" in lines[3]
    assert lines[4].startswith("device: cpu; precision: fp32")
    assert lines[3].split()[3:6] == ["inf*", "1.0000*", "0.0000*"]  # best of the two rows
    assert lines[-1] == "* best per dataset and scale"


def test_markdown_has_a_header_alignment_row_and_one_line_per_row() -> None:
    lines = format_markdown(ROWS).splitlines()
    assert lines[1].startswith("| :--- | :--- | ---: |")
    assert lines[2].startswith("| bicubic | set5 | x4 | 28.43 | 0.8113 | n/a |")


def test_json_writes_non_finite_numbers_as_null() -> None:
    rows = json.loads(format_json(ROWS))
    assert rows[0]["lpips"] is None and rows[1]["psnr"] is None and rows[1]["lpips"] == 0.0


def test_crop_box_picks_the_textured_region() -> None:
    hr = torch.full((1, 3, 256, 320), 0.5)
    hr[..., 128:256, 192:320] = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(0))
    assert texture_crop_box(hr) == (128, 192, 128)
    assert texture_crop_box(torch.rand(1, 3, 40, 60))[2] == 40
