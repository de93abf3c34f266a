"""Fixtures of the Real-ESRGAN plugin tests: a VGG19 weights file with random values, tiny photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from srkit.testing import make_image_folder, save_random_vgg19


@pytest.fixture(scope="session")
def vgg19_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchvision-style ``vgg19`` state dict (``features.N.*``) with small random values."""
    return save_random_vgg19(tmp_path_factory.mktemp("vgg") / "vgg19-random.pth")


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 64x64 smooth RGB images: training data and validation set of the tiny runs."""
    return make_image_folder(tmp_path_factory.mktemp("photos"), count=3, size=(64, 64))
