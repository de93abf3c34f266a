"""The converters against an independent functional statement of the reference forward passes.

The reference layouts (key names and shapes) are those of Lornatang/SRGAN-PyTorch checkpoints,
listed in ``data/*.tsv``. The functional forward passes below read the reference keys directly,
so a wrong mapping in the converter cannot be hidden by sharing code with it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from srkit.api import SrkitError, convert_checkpoint, load_model, load_module, lookup
from srkit_srgan.arch import SRGANDiscriminator, SRResNet
from srkit_srgan.convert import discriminator_from_lornatang, srresnet_from_lornatang

DATA = Path(__file__).parent / "data"


def reference_state(tsv: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with the shapes of a reference checkpoint (valid BN statistics)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for line in (DATA / tsv).read_text().splitlines():
        key, shape_text = line.split("\t")
        shape = ast.literal_eval(shape_text)
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        elif key.endswith(".weight") and len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=generator) / fan_in**0.5
        elif key.endswith(".weight") and len(shape) == 2:
            state[key] = torch.randn(shape, generator=generator) / shape[1] ** 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.1 + (
                0.25 if shape == (1,) else 0.0
            )
    return state


class KeyReader:
    """Reads a state dict and counts how often every key is read."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        self.state, self.reads = state, {k: 0 for k in state}

    def __getitem__(self, key: str) -> torch.Tensor:
        self.reads[key] += 1
        return self.state[key]

    def bn(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.batch_norm(x, self[f"{prefix}.running_mean"], self[f"{prefix}.running_var"],
                            self[f"{prefix}.weight"], self[f"{prefix}.bias"], False, 0.0, 1e-5)

    def forward_keys_read_once(self) -> bool:
        used = {k: n for k, n in self.reads.items() if not k.endswith("num_batches_tracked")}
        return all(n == 1 for n in used.values())


def reference_srresnet(x: torch.Tensor, ref: KeyReader) -> torch.Tensor:
    """Lornatang's Generator in eval mode, as functional ops over its state dict."""
    out1 = F.prelu(F.conv2d(x, ref["conv1.0.weight"], ref["conv1.0.bias"], padding=4),
                   ref["conv1.1.weight"])
    out, i = out1, 0
    while f"trunk.{i}.rcb.0.weight" in ref.state:
        p = f"trunk.{i}.rcb"
        y = ref.bn(F.conv2d(out, ref[f"{p}.0.weight"], padding=1), f"{p}.1")
        y = F.prelu(y, ref[f"{p}.2.weight"])
        y = ref.bn(F.conv2d(y, ref[f"{p}.3.weight"], padding=1), f"{p}.4")
        out, i = out + y, i + 1
    out = out1 + ref.bn(F.conv2d(out, ref["conv2.0.weight"], padding=1), "conv2.1")
    i = 0
    while f"upsampling.{i}.upsample_block.0.weight" in ref.state:
        p = f"upsampling.{i}.upsample_block"
        out = F.conv2d(out, ref[f"{p}.0.weight"], ref[f"{p}.0.bias"], padding=1)
        out = F.prelu(F.pixel_shuffle(out, 2), ref[f"{p}.2.weight"])
        i += 1
    out = F.conv2d(out, ref["conv3.weight"], ref["conv3.bias"], padding=4)
    return out.clamp(0.0, 1.0)


def reference_discriminator(x: torch.Tensor, ref: KeyReader) -> torch.Tensor:
    """Lornatang's Discriminator in eval mode, as functional ops over its state dict."""
    out = F.leaky_relu(F.conv2d(x, ref["features.0.weight"], ref["features.0.bias"], padding=1), 0.2)
    for k in range(1, 8):
        conv, bn = 3 * k - 1, 3 * k
        out = F.conv2d(out, ref[f"features.{conv}.weight"], stride=2 if k % 2 else 1, padding=1)
        out = F.leaky_relu(ref.bn(out, f"features.{bn}"), 0.2)
    out = torch.flatten(out, 1)
    out = F.leaky_relu(F.linear(out, ref["classifier.0.weight"], ref["classifier.0.bias"]), 0.2)
    return F.linear(out, ref["classifier.2.weight"], ref["classifier.2.bias"])


def assert_every_key_moved_once(reference: dict, converted: dict, module_keys: set) -> None:
    assert set(converted) == module_keys
    assert len(converted) == len(reference)
    ref_ids = sorted(id(t) for t in reference.values())
    assert sorted(id(t) for t in converted.values()) == ref_ids  # each tensor used exactly once


def with_stages(state: dict, stages: int) -> dict:
    """The x4 reference layout changed to ``stages`` upsampling stages (x2: 1, x8: 3)."""
    kept = {k: v for k, v in state.items() if not k.startswith("upsampling.")}
    for i in range(stages):
        for suffix in ("upsample_block.0.weight", "upsample_block.0.bias", "upsample_block.2.weight"):
            kept[f"upsampling.{i}.{suffix}"] = state[f"upsampling.0.{suffix}"].clone()
    return kept


def run_converted_and_reference(net, reference, converted, x, reference_forward):  # noqa: ANN001, ANN201
    """Load ``converted`` into ``net`` (every key used once); return (reference output, net output)
    on ``x``, the reference reading every forward key of the original state exactly once."""
    assert_every_key_moved_once(reference, converted, set(net.state_dict()))
    net.load_state_dict(converted, strict=True)
    reader = KeyReader(reference)
    with torch.no_grad():
        expected, actual = reference_forward(x, reader), net(x)
    assert reader.forward_keys_read_once()
    return expected, actual


@pytest.mark.parametrize("stages,scale", [(1, 2), (2, 4), (3, 8)])
def test_srresnet_converter_maps_every_key_and_reproduces_the_reference(stages, scale):
    reference = with_stages(reference_state("srresnet-x4-lornatang-keys.tsv"), stages)
    kwargs, converted = srresnet_from_lornatang(reference)
    assert kwargs == {"scale": scale, "channels": 64, "blocks": 16}
    x = torch.rand(2, 3, 7, 6, generator=torch.Generator().manual_seed(1))
    expected, actual = run_converted_and_reference(SRResNet(**kwargs).eval(), reference, converted,
                                                   x, reference_srresnet)
    assert expected.shape == (2, 3, 7 * scale, 6 * scale)
    assert 0.05 < (expected > 0).float().mean() < 0.95  # a test image, not a clamped constant
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def test_srresnet_converter_reads_old_conv_block_names():
    reference = reference_state("srresnet-x4-lornatang-keys.tsv")
    old = {k.replace("conv1.", "conv_block1.", 1).replace("conv2.", "conv_block2.", 1)
           .replace("conv3.", "conv_block3.", 1) if k.startswith(("conv1.", "conv2.", "conv3.")) else k: v
           for k, v in reference.items()}
    assert any(k.startswith("conv_block3.") for k in old)
    kwargs_old, converted_old = srresnet_from_lornatang(old)
    kwargs_new, converted_new = srresnet_from_lornatang(reference)
    assert kwargs_old == kwargs_new
    assert {k: id(v) for k, v in converted_old.items()} == {k: id(v) for k, v in converted_new.items()}


def test_discriminator_converter_maps_every_key_and_reproduces_the_reference():
    reference = reference_state("srgan-discriminator-lornatang-keys.tsv")
    kwargs, converted = discriminator_from_lornatang(reference)
    assert kwargs == {"crop_size": 96, "channels": 64}
    x = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    expected, actual = run_converted_and_reference(SRGANDiscriminator(**kwargs).eval(), reference,
                                                   converted, x, reference_discriminator)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def test_discriminator_converter_infers_crop_size_from_the_dense_layer():
    reference = reference_state("srgan-discriminator-lornatang-keys.tsv")
    reference["classifier.0.weight"] = torch.zeros(1024, 512 * 8 * 8)
    kwargs, _ = discriminator_from_lornatang(reference)
    assert kwargs["crop_size"] == 128


def test_converters_name_the_first_key_that_does_not_belong():
    reference = reference_state("srresnet-x4-lornatang-keys.tsv")
    with pytest.raises(SrkitError, match="unexpected key 'trunk.0.rcb.9.weight'"):
        srresnet_from_lornatang({**reference, "trunk.0.rcb.9.weight": torch.zeros(1)})
    del reference["trunk.3.rcb.4.running_var"]
    with pytest.raises(SrkitError, match="blocks.3.bn2.running_var"):
        srresnet_from_lornatang(reference)
    with pytest.raises(SrkitError, match="discriminator"):
        discriminator_from_lornatang(reference)


def test_registered_srresnet_converter_checks_the_scale():
    convert = lookup("converter", "srresnet")
    reference = reference_state("srresnet-x4-lornatang-keys.tsv")
    assert convert(reference, scale=4, extra={}).arch == "srresnet"
    with pytest.raises(SrkitError, match="x4, not x2"):
        convert(reference, scale=2, extra={})


def test_srkit_convert_reads_lornatang_files_end_to_end(tmp_path):
    """A compiled-model checkpoint under "state_dict" becomes srkit weights with the same output."""
    reference = reference_state("srresnet-x4-lornatang-keys.tsv")
    src = tmp_path / "SRResNet_x4-ImageNet.pth.tar"
    torch.save({"epoch": 3, "state_dict": {f"_orig_mod.{k}": v for k, v in reference.items()}}, src)
    convert_checkpoint(src, tmp_path / "srresnet.safetensors", arch="srresnet", scale=4)
    model = load_model(tmp_path / "srresnet.safetensors").eval()
    x = torch.rand(1, 3, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference_srresnet(x, KeyReader(reference)),
                                   rtol=1e-4, atol=1e-5)

    d_reference = reference_state("srgan-discriminator-lornatang-keys.tsv")
    d_src = tmp_path / "D.pth.tar"
    torch.save({"state_dict": d_reference}, d_src)
    convert_checkpoint(d_src, tmp_path / "d.safetensors", arch="srgan-d", scale=4)
    discriminator = load_module(tmp_path / "d.safetensors", kind="discriminator").eval()
    y = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(discriminator(y), reference_discriminator(y, KeyReader(d_reference)),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stages,scale", [(1, 2), (2, 4), (3, 8)])
def test_lornatang_generator_layout_and_scale_are_recognised(stages, scale):
    from srkit.api import detect_layout

    reference = with_stages(reference_state("srresnet-x4-lornatang-keys.tsv"), stages)
    assert detect_layout(reference) == {"srresnet": scale}
    old = {k.replace("conv1.", "conv_block1.", 1): v for k, v in reference.items()}
    assert detect_layout(old) == {"srresnet": scale}


def test_lornatang_discriminator_converts_without_arch_or_scale(tmp_path):
    d_reference = reference_state("srgan-discriminator-lornatang-keys.tsv")
    torch.save({"state_dict": d_reference}, tmp_path / "D.pth.tar")
    converted = convert_checkpoint(tmp_path / "D.pth.tar", tmp_path / "d.safetensors")
    assert (converted.converter, converted.kind) == ("srgan-d", "discriminator")


def test_official_export_round_trips_the_lornatang_checkpoint_key_for_key(tmp_path):
    from srkit.api import export_official

    reference = reference_state("srresnet-x4-lornatang-keys.tsv")
    torch.save({"state_dict": reference}, tmp_path / "SRResNet_x4.pth.tar")
    convert_checkpoint(tmp_path / "SRResNet_x4.pth.tar", tmp_path / "srresnet.safetensors")
    written = export_official(tmp_path / "srresnet.safetensors", tmp_path / "back.pth.tar")
    assert written == [tmp_path / "back.pth.tar"]
    back = torch.load(tmp_path / "back.pth.tar", weights_only=True)["state_dict"]
    assert list(back) == list(reference)  # the same keys, in the release's order
    assert all(torch.equal(back[k], reference[k]) for k in reference)


def test_srkit_trained_srresnet_exports_to_a_file_that_computes_the_same(tmp_path):
    from srkit.api import build_generator, export_official, save_weights

    torch.manual_seed(3)
    model = build_generator("srresnet", scale=2, channels=8, blocks=2).eval()
    save_weights(model, tmp_path / "ours.safetensors")
    export_official(tmp_path / "ours.safetensors", tmp_path / "lornatang.pth.tar")
    exported = torch.load(tmp_path / "lornatang.pth.tar", weights_only=True)["state_dict"]
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(reference_srresnet(x, KeyReader(exported)), model(x).clamp(0, 1),
                                   rtol=1e-4, atol=1e-5)


def test_srresnet_exports_to_onnx_matching_pytorch(tmp_path):
    pytest.importorskip("onnxruntime")
    from srkit.api import build_generator, export_onnx, save_weights

    save_weights(build_generator("srresnet", scale=2, channels=8, blocks=1), tmp_path / "m.safetensors")
    differences = export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    assert len(differences) == 2 and max(differences.values()) < 1e-4
