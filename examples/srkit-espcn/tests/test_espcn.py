"""Tests of the ESPCN plugin: run ``pytest`` in this folder (installed or not).

They show the three levels worth testing in a plugin: it loads cleanly into srkit's registry,
its pieces work alone (shapes, converter), and srkit's CLI can train with it.
"""

from __future__ import annotations

import pytest
import torch
from srkit.api import SrkitError, weights_info
from srkit.testing import isolated_registry, make_image_folder
from torch import nn

import srkit_espcn
from srkit_espcn.arch import ESPCN, rgb_to_ycbcr, ycbcr_to_rgb
from srkit_espcn.convert import convert_espcn


def test_plugin_loads_without_errors_and_registers_everything():
    registry = isolated_registry(srkit_espcn)
    assert registry.failed == []
    for kind in ("generator", "recipe", "converter"):
        assert registry.names(kind) == ["espcn"]
    assert registry.names("command") == ["espcn-info"]


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("color", ["rgb", "y"])
def test_output_is_scale_times_the_input(scale, color):
    net = ESPCN(scale=scale, color=color, features=(8, 4))
    sr = net(torch.rand(2, 3, 5, 7))
    assert sr.shape == (2, 3, 5 * scale, 7 * scale) and net.scale == scale


def test_ycbcr_round_trip_is_exact():
    rgb = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-12)


def test_unknown_color_is_a_one_line_error():
    with pytest.raises(SrkitError, match="color must be one of rgb, y"):
        ESPCN(color="ycbcr")


class PlainESPCN(nn.Module):
    """The layer layout of common plain-PyTorch ESPCN code (Y channel in, Y channel out)."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.first_part = nn.Sequential(nn.Conv2d(1, 64, 5, padding=2), nn.Tanh(),
                                        nn.Conv2d(64, 32, 3, padding=1), nn.Tanh())
        self.last_part = nn.Sequential(nn.Conv2d(32, scale**2, 3, padding=1),
                                       nn.PixelShuffle(scale))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.last_part(self.first_part(y))


def rename(state: dict, old: str, new: str) -> dict:
    return {k.replace(old, new): v for k, v in state.items()}


@pytest.mark.parametrize("layout", ["first_part", "feature_maps"])
def test_converted_checkpoint_reproduces_the_foreign_network_on_luma(layout):
    torch.manual_seed(0)
    foreign = PlainESPCN(scale=3).eval()
    state = foreign.state_dict()
    if layout == "feature_maps":
        state = rename(rename(state, "first_part", "feature_maps"), "last_part", "sub_pixel")

    converted = convert_espcn(state, scale=3, extra={})
    ours = ESPCN(**converted.kwargs).eval()
    ours.load_state_dict(converted.state_dict, strict=True)

    lr = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        expected_y = foreign(rgb_to_ycbcr(lr)[:, :1])
        got_y = rgb_to_ycbcr(ours(lr))[:, :1]
    assert converted.kwargs == {"scale": 3, "color": "y", "features": [64, 32]}
    assert torch.allclose(got_y, expected_y, atol=1e-5)


def test_converter_refuses_another_scale_and_unknown_keys():
    state = PlainESPCN(scale=2).state_dict()
    with pytest.raises(SrkitError, match="upscales x2, not x4"):
        convert_espcn(state, scale=4, extra={})
    with pytest.raises(SrkitError, match="unexpected key extra.weight"):
        convert_espcn({**state, "extra.weight": torch.zeros(1)}, scale=2, extra={})


def test_srkit_trains_a_few_steps_of_espcn(tmp_path, srkit_plugins, srkit_cli):
    """The recipe through srkit's own trainer; loaded by module path, so no install is needed.

    ``srkit_plugins`` and ``srkit_cli`` are fixtures srkit ships (``srkit.testing``).
    """
    data = make_image_folder(tmp_path / "photos", count=2, size=(48, 48))
    srkit_plugins("srkit_espcn")  # only srkit's core and this plugin, even if installed
    result = srkit_cli("train", "espcn", "--iters", 2, "--batch-size", 2, "--patch-size", 24,
                       "--scale", 3, "--workers", 0, "--data", data, "--val", data,
                       "--out", tmp_path / "run", "--device", "cpu")
    assert result.code == 0, result.err
    weights = tmp_path / "run" / "model.safetensors"
    info = weights_info(weights)
    assert info["arch"] == "espcn" and info["kwargs"]["scale"] == 3
    assert info["config"]["iters"] == 2


@pytest.mark.parametrize("layout", ["first_part", "feature_maps"])
def test_srkit_convert_recognises_both_layouts_without_arch(tmp_path, srkit_plugins, srkit_cli,
                                                             layout):
    state = PlainESPCN(scale=3).state_dict()
    if layout == "feature_maps":
        state = rename(rename(state, "first_part", "feature_maps"), "last_part", "sub_pixel")
    torch.save({"model": state}, tmp_path / "espcn.pth")
    srkit_plugins("srkit_espcn")
    result = srkit_cli("convert", tmp_path / "espcn.pth", tmp_path / "espcn.safetensors")
    assert result.code == 0, result.err
    assert "recognised as espcn" in result.err
    assert "espcn x3" in result.out
