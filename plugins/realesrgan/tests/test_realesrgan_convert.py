"""Release-layout files convert to srkit weights that reproduce the official forward passes, and
export back key for key."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from realesrgan_official import (
    KeyReader,
    official_rrdbnet,
    official_unet_discriminator,
    random_release_state,
    release_layout,
)

from srkit.api import (
    SrkitError,
    build_generator,
    convert_checkpoint,
    detect_layout,
    export_official,
    load_model,
    load_module,
)
from srkit_realesrgan.convert import convert_rrdbnet

GENERATORS = {4: "rrdbnet-x4-realesrgan-keys.tsv", 2: "rrdbnet-x2-realesrgan-keys.tsv"}
DISCRIMINATOR = "unet-discriminator-sn-realesrgan-keys.tsv"


@pytest.mark.parametrize("scale", [4, 2])
def test_every_release_key_is_consumed_exactly_once(scale: int) -> None:
    state = random_release_state(GENERATORS[scale])
    converted = convert_rrdbnet(dict(state), scale=None, extra={})
    assert converted.arch == "rrdbnet"
    assert converted.kwargs == {"scale": scale, "channels": 64, "blocks": 23, "growth": 32}
    assert list(converted.state_dict) == list(release_layout(GENERATORS[scale]))
    assert all(converted.state_dict[k] is state[k] for k in state)


# x4 in the full release layout; x2 with its first 3 RRDBs (the rest repeats them), to save time
@pytest.mark.parametrize(("scale", "nesting", "blocks"), [(4, "params_ema", None), (2, "params", 3)])
def test_release_file_reproduces_the_official_forward(tmp_path: Path, scale: int, nesting: str,
                                                      blocks: int | None) -> None:
    state = random_release_state(GENERATORS[scale], seed=scale, blocks=blocks)
    src, dst = tmp_path / f"RealESRGAN_x{scale}plus.pth", tmp_path / "rrdbnet.safetensors"
    torch.save({nesting: state}, src)

    converted = convert_checkpoint(src, dst)  # layout and scale detected, no --arch

    assert converted.converter == "rrdbnet"
    model = load_model(dst, scale=scale)
    lr = torch.rand(2, 3, 8, 6, generator=torch.Generator().manual_seed(1))
    reader = KeyReader(state)
    with torch.no_grad():
        expected = official_rrdbnet(lr, reader)
        got = model(lr)
    assert got.shape == (2, 3, 8 * scale, 6 * scale)
    assert reader.every_key_read_once()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert expected.std() > 1e-3  # a forward pass that says something


def test_x1_layout_is_read_through_pixel_unshuffle_by_4() -> None:
    state = random_release_state(GENERATORS[4], blocks=1)
    state["conv_first.weight"] = torch.randn(64, 48, 3, 3) / (48 * 9) ** 0.5
    converted = convert_rrdbnet(state, scale=None, extra={})
    assert converted.kwargs["scale"] == 1
    net = build_generator("rrdbnet", **converted.kwargs).eval()
    net.load_state_dict(converted.state_dict)
    lr = torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(net(lr), official_rrdbnet(lr, KeyReader(state)), rtol=1e-4, atol=1e-5)


def test_discriminator_file_reproduces_the_official_forward(tmp_path: Path) -> None:
    state = random_release_state(DISCRIMINATOR, seed=3)
    src, dst = tmp_path / "RealESRGAN_x4plus_netD.pth", tmp_path / "d.safetensors"
    torch.save({"params": state}, src)

    converted = convert_checkpoint(src, dst)

    assert (converted.converter, converted.kind) == ("unet-sn", "discriminator")
    assert converted.kwargs == {"channels": 64, "skip": True}
    net = load_module(dst, kind="discriminator")
    images = torch.rand(2, 3, 32, 24, generator=torch.Generator().manual_seed(4))
    reader = KeyReader(state)
    with torch.no_grad():
        expected = official_unet_discriminator(images, reader)
        got = net(images)
    assert got.shape == (2, 1, 32, 24)
    assert reader.every_key_read_once()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("tsv", "nesting", "blocks"), [
    (GENERATORS[4], "params_ema", None), (GENERATORS[2], "params_ema", 2), (DISCRIMINATOR, "params", None)])
def test_official_export_writes_the_release_back_key_for_key(tmp_path: Path, tsv: str, nesting: str,
                                                             blocks: int | None) -> None:
    state = random_release_state(tsv, seed=5, blocks=blocks)
    src, mid, back = tmp_path / "release.pth", tmp_path / "srkit.safetensors", tmp_path / "back.pth"
    torch.save({nesting: state}, src)
    convert_checkpoint(src, mid)

    assert export_official(mid, back) == [back]

    exported = torch.load(back, weights_only=True)
    assert list(exported) == [nesting]
    assert list(exported[nesting]) == list(state)  # the names and order of the release
    assert all(torch.equal(exported[nesting][k], state[k]) for k in state)


def test_release_layouts_are_detected_without_arch_and_before_spandrel() -> None:
    for scale, tsv in GENERATORS.items():
        assert detect_layout(random_release_state(tsv, blocks=1)) == {"rrdbnet": scale}
    assert detect_layout(random_release_state(DISCRIMINATOR)) == {"unet-sn": True}


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.pop("conv_hr.weight"), "not an RRDBNet .*no 'conv_hr.weight'"),
    (lambda s: s.pop("body.0.rdb2.conv3.bias"), "missing key 'body.0.rdb2.conv3.bias'"),
    (lambda s: s.__setitem__("conv_first.weight", torch.zeros(64, 6, 3, 3)), "reads 6 channels"),
    (lambda s: s.__setitem__("conv_body.weight", torch.zeros(64, 32, 3, 3)), "'conv_body.weight' has shape"),
])
def test_a_damaged_release_file_is_a_one_line_error(change, message: str) -> None:  # noqa: ANN001
    state = random_release_state(GENERATORS[4], blocks=2)
    change(state)
    with pytest.raises(SrkitError, match=message) as info:
        convert_rrdbnet(state, scale=None, extra={})
    assert "\n" not in str(info.value)


def test_a_wrong_scale_is_refused() -> None:
    with pytest.raises(SrkitError, match="upscales x4, not x2"):
        convert_rrdbnet(random_release_state(GENERATORS[4], blocks=1), scale=2, extra={})
