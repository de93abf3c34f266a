"""End to end through the CLI: a tiny paired run, then LR-only fine-tuning from its weights."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from srkit.api import read_extras, weights_info

TINY = ["--scale", "8", "--n-feats", "4", "--n-blocks", "1", "--patch-size", "64",
        "--batch-size", "4", "--val-every", "0", "--log-every", "1", "--workers", "0",
        "--device", "cpu"]


def srkit(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "srkit", *args], check=True)


@pytest.mark.slow
def test_paired_run_then_lr_only_fine_tuning(tmp_path) -> None:
    lr_only = tmp_path / "lr_only"
    lr_only.mkdir()
    for i, size in enumerate([(40, 30), (13, 27)]):
        Image.effect_noise(size, 40 + 10 * i).convert("RGB").save(lr_only / f"{i}.png")
    srkit("train", "drn", *TINY, "--iters", "2", "--out", str(tmp_path / "paired"))
    weights = tmp_path / "paired" / "model.safetensors"
    assert weights_info(weights)["extras"] == ["dual"]

    # as the README shows it: the scale (x8) comes from the --init file
    assert TINY[:2] == ["--scale", "8"]
    without_scale = TINY[2:]
    srkit("train", "drn", *without_scale, "--iters", "2", "--unpaired", str(lr_only),
          "--init", str(weights), "--out", str(tmp_path / "unpaired"))
    assert weights_info(tmp_path / "unpaired" / "model.safetensors")["scale"] == 8
    lines = (tmp_path / "unpaired" / "log.jsonl").read_text().splitlines()
    log = [json.loads(line) for line in lines]
    steps = [r for r in log if "loss.total" in r]
    assert steps and all(r["phase"] == "semi-supervised" for r in steps)
    assert set(read_extras(tmp_path / "unpaired" / "model.safetensors")["dual"])
