"""Fixtures of the SRGAN plugin tests: a VGG19 weights file with random values."""

from __future__ import annotations

from pathlib import Path

import pytest

from srkit.testing import save_random_vgg19


@pytest.fixture(scope="session")
def vgg19_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("vgg") / "vgg19-random.pth")
