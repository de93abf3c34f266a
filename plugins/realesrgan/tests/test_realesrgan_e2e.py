"""The documented path, end to end on the bundled photos (slow): realesrnet quick, realesrgan quick
from it, a bit-exact resume, then bench (with LPIPS and the HTML report) and upscale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import load_file

from srkit.api import load_image
from srkit.testing import make_image_folder
from srkit.testing import srkit_main as main

pytestmark = pytest.mark.slow


def test_realesrnet_then_realesrgan_quick_resume_bench_and_upscale(tmp_path: Path, monkeypatch,
                                                                     capsys) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    main(["train", "realesrnet", "--preset", "quick"])
    gan = ["train", "realesrgan", "--preset", "quick", "--init", "runs/realesrnet_x4/model.safetensors",
           "--content-loss", "l1"]
    main(gan)
    main([*gan, "--iters", "100", "--out", "runs/gan_resumed"])
    main(["train", "realesrgan", "--preset", "quick", "--out", "runs/gan_resumed", "--resume"])

    straight = load_file("runs/realesrgan_x4/model.safetensors")
    resumed = load_file("runs/gan_resumed/model.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    torch.manual_seed(0)
    alexnet = {k: v for k, v in torchvision.models.alexnet().state_dict().items()
               if k.startswith("features.")}
    torch.save(alexnet, "alexnet-random.pth")
    capsys.readouterr()
    main(["bench", "--models", "bicubic,realesrnet,realesrgan", "--datasets", "set5", "--format", "json",
          "--lpips-weights", "alexnet-random.pth", "--report", "report", "--device", "cpu"])
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"bicubic", "realesrnet", "realesrgan"}
    assert all(row["lpips"] is not None and row["psnr"] > 0 for row in rows.values())
    page = Path("report/index.html").read_text()
    assert "realesrgan" in page and "realesrnet" in page and "bicubic" in page

    photos = make_image_folder("photos", count=1, size=(24, 20))
    main(["upscale", "--weights", "runs/realesrgan_x4/model.safetensors", str(photos / "0.png"),
          "--out", "up"])
    assert load_image(next(Path("up").iterdir())).shape == (3, 96, 80)
