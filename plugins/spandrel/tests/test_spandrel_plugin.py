"""Files spandrel reads work in srkit: detection, scale, info, upscale, bench, convert, fine-tuning."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from spandrel_nets import NETWORKS, one_line_error, random_network, run_cli, save_checkpoint

from srkit.api import SrkitError, describe_model_file, load_model, load_model_file, read_model_file


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_spandrel_file_is_recognised_and_computes_like_spandrel(tmp_path, name, suffix):
    import spandrel

    network = random_network(name)
    path = save_checkpoint(network, tmp_path / f"model{suffix}")
    _, info = read_model_file(path)
    assert (info["arch"], info["converter"], info["scale"]) == ("spandrel", "spandrel", NETWORKS[name][1])
    assert info["kwargs"]["architecture"] == name

    model = load_model_file(path)
    descriptor = spandrel.ModelLoader().load_from_state_dict(network.state_dict())
    lr = torch.rand(1, 3, 17, 19, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(lr).clamp(0, 1)
    expected = descriptor(lr)
    assert ours.shape == (1, 3, 17 * model.scale, 19 * model.scale)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_converted_srkit_weights_rebuild_the_same_network(tmp_path, capsys, name):
    path = save_checkpoint(random_network(name), tmp_path / "model.pth")
    code, out, err = run_cli(capsys, "convert", str(path), str(tmp_path / "model.safetensors"))
    assert code == 0, err
    assert "recognised as spandrel" in err and f"spandrel x{NETWORKS[name][1]}" in out
    rebuilt, direct = load_model(tmp_path / "model.safetensors"), load_model_file(path)
    lr = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(rebuilt(lr), direct(lr))


def test_srkit_layouts_are_read_by_srkit_not_by_spandrel(tmp_path):
    from srkit_drn.arch import DRN
    from srkit_srgan.arch import SRResNet
    from srkit_srgan.convert import SRRESNET_EXPORT_RULES, rename_keys

    lornatang = rename_keys(SRResNet(scale=4, channels=8, blocks=2).state_dict(), SRRESNET_EXPORT_RULES,
                            "SRResNet", source="an srkit")
    torch.save({"state_dict": lornatang}, tmp_path / "SRResNet_x4.pth.tar")
    torch.save(DRN(scale=4, n_feats=16, n_blocks=30).state_dict(), tmp_path / "DRNS4x.pt")
    assert read_model_file(tmp_path / "SRResNet_x4.pth.tar")[1]["arch"] == "srresnet"
    assert read_model_file(tmp_path / "DRNS4x.pt")[1]["arch"] == "drn-s"


def test_info_on_a_foreign_file_names_arch_scale_and_parameters(esrgan_file, capsys):
    code, out, _ = run_cli(capsys, "info", str(esrgan_file), "--json")
    info = json.loads(out)
    assert code == 0
    network = random_network("ESRGAN")
    assert (info["arch"], info["scale"]) == ("spandrel", 4)
    assert info["parameters"] == sum(p.numel() for p in network.parameters())


def test_upscale_takes_a_foreign_file_directly(esrgan_file, tiny_images, tmp_path, capsys):
    code, _, err = run_cli(capsys, "upscale", "--weights", str(esrgan_file), str(tiny_images / "0.png"),
                           "--out", str(tmp_path / "up"), "--device", "cpu")
    assert code == 0, err
    from PIL import Image

    assert Image.open(tmp_path / "up" / "0.png").size == (128, 128)


def test_bench_takes_a_foreign_file_as_weights(esrgan_file, tiny_images, capsys):
    code, out, err = run_cli(capsys, "bench", "--models", "spandrel", "--weights",
                             f"spandrel={esrgan_file}", "--datasets", str(tiny_images), "--no-lpips",
                             "--device", "cpu", "--format", "json", "--warmup", "0",
                             "--no-baseline")
    assert code == 0, err
    row = json.loads(out)[0]
    assert (row["model"], row["scale"], row["images"]) == ("spandrel", 4, 2)
    assert row["params"] == sum(p.numel() for p in random_network("ESRGAN").parameters())
    assert row["psnr"] is not None


def test_bench_refuses_a_foreign_file_of_another_scale(esrgan_file, tiny_images, capsys):
    err = one_line_error(capsys, *["bench", "--models", "esrgan", "--weights", f"esrgan={esrgan_file}",
                                 "--datasets", str(tiny_images), "--scales", "2", "--no-lpips"])
    assert "weights are for x4, not x2" in err


def test_fine_tuning_a_spandrel_model_changes_it_and_saves_srkit_weights(esrgan_file, tiny_images,
                                                                          tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "spandrel", "--init", str(esrgan_file), "--iters", "3",
                           "--batch-size", "2", "--patch-size", "32", "--scale", "4", "--workers", "0",
                           "--data", str(tiny_images), "--val", str(tiny_images), "--out", str(out),
                           "--device", "cpu", "--loss", "mse", "--learning-rate", "1e-3")
    assert code == 0, err
    tuned, start = load_model(out / "model.safetensors"), load_model_file(esrgan_file)
    assert tuned.srkit_weights_info["kwargs"] == start.srkit_weights_info["kwargs"]
    changed = [k for k, v in start.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, tuned.state_dict()[k])]
    assert changed  # trained, not merely copied


def test_fine_tuning_needs_init_and_the_file_scale(esrgan_file, tiny_images, tmp_path, capsys):
    base = ["train", "spandrel", "--iters", "1", "--data", str(tiny_images), "--out", str(tmp_path / "r"),
            "--workers", "0", "--device", "cpu"]
    assert "needs --init FILE" in one_line_error(capsys, *base)
    err = one_line_error(capsys, *[*base, "--init", str(esrgan_file), "--scale", "2"])
    assert "weights are for x4, not --scale 2; leave out --scale" in err


def test_export_official_writes_the_layout_spandrel_reads(tmp_path, capsys):
    network = random_network("SPAN")
    path = save_checkpoint(network, tmp_path / "span.pth")
    assert run_cli(capsys, "convert", str(path), str(tmp_path / "span.safetensors"))[0] == 0
    code, _, err = run_cli(capsys, "export", str(tmp_path / "span.safetensors"), str(tmp_path / "back.pth"),
                           "--format", "official")
    assert code == 0, err
    back = torch.load(tmp_path / "back.pth", weights_only=True)
    original = network.state_dict()
    assert set(back) == set(original)
    assert all(torch.equal(back[k], original[k]) for k in original)


def test_without_spandrel_each_use_says_what_to_install(tmp_path, monkeypatch, capsys):
    path = save_checkpoint(random_network("SPAN"), tmp_path / "span.pth")
    monkeypatch.setitem(sys.modules, "spandrel", None)  # import spandrel now raises ImportError
    err = one_line_error(capsys, *["info", str(path)])
    assert "pip install 'srkit[spandrel]'" in err
    from srkit.api import build_generator

    with pytest.raises(SrkitError, match=r"pip install 'srkit\[spandrel\]'"):
        build_generator("spandrel", architecture="SPAN", module="spandrel.architectures.SPAN.__arch.span",
                        cls="SPAN", scale=4, hyperparameters={})


def test_only_spandrel_architecture_classes_are_built():
    from srkit.api import build_generator

    with pytest.raises(SrkitError, match="not a spandrel architecture module"):
        build_generator("spandrel", architecture="x", module="os", cls="system", scale=1,
                        hyperparameters={})


def test_describe_builds_without_loading_tensors(esrgan_file):
    info = describe_model_file(esrgan_file)
    assert info["converter"] == "spandrel" and info["tensors"] > 0


@pytest.mark.slow
def test_a_spandrel_model_exports_to_onnx_matching_pytorch(tmp_path):
    pytest.importorskip("onnxruntime")
    from srkit.api import export_onnx

    path = save_checkpoint(random_network("SPAN"), tmp_path / "span.pth")
    differences = export_onnx(path, tmp_path / "span.onnx")  # a foreign file directly
    assert len(differences) == 2 and max(differences.values()) < 1e-4
