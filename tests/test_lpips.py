"""LPIPS: unavailable (not random) without backbone weights; the given weights are really used.

The backbone files here are random torchvision AlexNet features made by the tests, standing in
for the ImageNet file that cannot be downloaded; only the loading path is under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from srkit.errors import SrkitError
from srkit.evaluation.lpips_metric import (
    LpipsUnavailable,
    default_backbone_path,
    load_lpips,
)


def save_random_alexnet_features(path: Path, seed: int) -> Path:
    """A torchvision-layout AlexNet state dict (only ``features.*``, which LPIPS uses)."""
    torch.manual_seed(seed)
    state = {k: v for k, v in torchvision.models.alexnet().state_dict().items()
             if k.startswith("features.")}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    hr = torch.rand(2, 3, 64, 64, generator=generator)
    sr = (hr + 0.1 * torch.randn(2, 3, 64, 64, generator=generator)).clamp(0, 1)
    return sr, hr


def test_missing_backbone_is_unavailable_and_says_where_to_put_it(torch_home: Path) -> None:
    expected = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert default_backbone_path("alex") == expected
    with pytest.raises(LpipsUnavailable, match="AlexNet ImageNet weights not found at") as info:
        load_lpips("alex")
    assert str(expected) in str(info.value)
    assert "--lpips-weights" in str(info.value)


def test_vgg_backbone_looks_for_the_torchvision_vgg16_file(torch_home: Path) -> None:
    with pytest.raises(LpipsUnavailable, match="vgg16-397923af.pth"):
        load_lpips("vgg")


def test_lpips_from_the_hub_cache_file_gives_distances(torch_home: Path, images) -> None:
    save_random_alexnet_features(default_backbone_path("alex"), seed=0)
    metric = load_lpips("alex")
    sr, hr = images
    distances = metric(sr, hr)
    assert distances.shape == (2,)
    assert torch.all(distances > 0)
    assert torch.allclose(metric(hr, hr), torch.zeros(2), atol=1e-6)


def test_lpips_uses_the_values_of_the_given_file(tmp_path: Path, torch_home: Path, images) -> None:
    sr, hr = images
    first = load_lpips("alex", weights=save_random_alexnet_features(tmp_path / "a.pth", seed=0))
    second = load_lpips("alex", weights=save_random_alexnet_features(tmp_path / "b.pth", seed=1))
    assert not torch.allclose(first(sr, hr), second(sr, hr))
    backbone = first.model.net.slice1[0].weight
    assert torch.equal(backbone, torch.load(tmp_path / "a.pth")["features.0.weight"])


def test_a_file_that_is_not_an_alexnet_state_dict_is_a_one_line_error(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(SrkitError, match="not a torchvision AlexNet state dict"):
        load_lpips("alex", weights=wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SrkitError, match="cannot read AlexNet weights"):
        load_lpips("alex", weights=garbage)
