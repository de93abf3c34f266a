"""Fixtures of the SRGAN plugin tests: a VGG19 weights file with random values."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srkit_srgan.vgg import vgg19_features


@pytest.fixture(scope="session")
def vgg19_state() -> dict[str, torch.Tensor]:
    """A torchvision-style ``vgg19`` state dict (``features.N.*``) with small random values.

    The classifier is represented by one tiny stray key: loaders must ignore it.
    """
    generator = torch.Generator().manual_seed(0)
    state = {
        f"features.{key}": torch.randn(tensor.shape, generator=generator) * 0.05
        for key, tensor in vgg19_features().state_dict().items()
    }
    state["classifier.0.weight"] = torch.zeros(2, 2)
    return state


@pytest.fixture(scope="session")
def vgg19_file(vgg19_state, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.save(vgg19_state, path)
    return path
