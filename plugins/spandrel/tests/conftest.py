"""Fixtures of the spandrel plugin tests: checkpoint files and a tiny image folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("spandrel")

from spandrel_nets import random_network, save_checkpoint  # noqa: E402


@pytest.fixture
def esrgan_file(tmp_path) -> Path:
    return save_checkpoint(random_network("ESRGAN"), tmp_path / "4x_esrgan.pth", nest="params_ema")


@pytest.fixture
def tiny_images(tmp_path) -> Path:
    """Two 32x32 photos-like images (smooth, so models and metrics see structure)."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    y, x = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    for i in range(2):
        rgb = torch.stack([x, y, (x * y + i * 0.3) % 1.0]).permute(1, 2, 0)
        Image.fromarray((rgb.numpy() * 255).astype("uint8")).save(folder / f"{i}.png")
    return folder
