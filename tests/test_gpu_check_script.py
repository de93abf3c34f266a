"""``benchmarks/gpu_check.sh --tiny`` runs every section at toy sizes on the CPU and writes the
files a GPU run brings back (so the script is known to work before device time is spent)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from srkit.weights.files import load_model

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("CUDA-only tests", "Training throughput", "Inference throughput", "Metrics",
            "Fixed-budget training: SRResNet x4", "Fixed-budget training: DRN-S x4",
            "Data throughput and data wait")


@pytest.mark.slow
def test_gpu_check_tiny_writes_report_results_and_weights(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "EXTRA_DATA": str(tmp_path / "no_such_folder")}
    subprocess.run(["bash", "benchmarks/gpu_check.sh", "--tiny"], cwd=ROOT, env=env, check=True)

    assert sorted(p.name for p in out.iterdir()) == [
        "drn_s_x4.fp16.safetensors", "report.md", "results.json", "srresnet_x4.safetensors"]
    report = (out / "report.md").read_text()
    for title in SECTIONS:
        section = report.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
        assert "exit status 0" in section, section
    assert "| srresnet | train | eager |" in report and "| drn-s x4 | 12x16 | bf16 |" in report
    assert "| from the store |" in report and "\nstore: " in report and "; ratio " in report
    results = json.loads((out / "results.json").read_text())
    for name in ("srresnet_x4", "drn_s_x4"):
        rows = results[name]["rows"]
        assert [r["iteration"] for r in rows] == [0, 2, 4]
        assert all(0 < r[s]["ssim"] <= 1 for r in rows for s in ("set5", "set14"))
        assert results[name]["bicubic"]["set5"]["psnr"] > 20
    for weights in ("srresnet_x4.safetensors", "drn_s_x4.fp16.safetensors"):
        model = load_model(out / weights)
        assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)
