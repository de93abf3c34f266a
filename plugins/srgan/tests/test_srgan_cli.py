"""``srkit train srgan`` through the real CLI and trainer, on tiny networks."""

import json

import pytest

from srkit.testing import srkit_main

TINY_FLAGS = ["--scale", "2", "--channels", "8", "--blocks", "2", "--d-channels", "8",
              "--patch-size", "32", "--batch-size", "2", "--workers", "0", "--log-every", "1",
              "--device", "cpu"]


def test_srgan_without_vgg_weights_stops_at_once_saying_where_to_put_them(tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(SystemExit) as info:
        srkit_main(["train", "srgan", "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in err
    assert "--vgg-weights FILE" in err and "--content-loss mse" in err
    assert not (tmp_path / "run" / "log.jsonl").exists()


@pytest.mark.slow
def test_srgan_trains_both_phases_and_logs_every_term(tmp_path):
    out = tmp_path / "run"
    srkit_main(["train", "srgan", "--content-loss", "mse", "--iters", "4", "--pretrain-iters", "2",
          "--out", str(out),
          *TINY_FLAGS])
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if "phase" in r]
    assert [r["phase"] for r in steps] == ["pretrain", "pretrain", "gan", "gan"]
    for key in ("content", "adv", "g_total", "d_real_loss", "d_fake_loss", "d_real", "d_fake"):
        assert f"loss.{key}" in steps[-1]
    assert (out / "model.safetensors").is_file()


def lornatang_run(tmp_path):
    """(a x2 SRResNet saved as a Lornatang checkpoint, ``train srresnet`` flags of a one-step run
    from it, the srkit network it holds)."""
    import numpy as np
    import torch
    from PIL import Image

    from srkit_srgan.arch import SRResNet
    from srkit_srgan.convert import SRRESNET_EXPORT_RULES, rename_keys

    data = tmp_path / "hr"
    data.mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            data / f"{i}.png")
    torch.manual_seed(0)
    start = SRResNet(scale=2, channels=8, blocks=2)
    lornatang = rename_keys(start.state_dict(), SRRESNET_EXPORT_RULES, "SRResNet", source="an srkit")
    torch.save({"state_dict": lornatang}, tmp_path / "SRResNet_x2.pth.tar")
    flags = TINY_FLAGS[2:6] + TINY_FLAGS[8:]  # no --scale (the file's), no --d-channels (no discriminator)
    return tmp_path / "SRResNet_x2.pth.tar", ["--iters", "1", "--data", str(data), "--val", str(data),
                                              "--out", str(tmp_path / "run"), *flags], start


def test_srresnet_fine_tunes_from_a_lornatang_checkpoint(tmp_path):
    from srkit.api import load_model

    checkpoint, flags, start = lornatang_run(tmp_path)
    srkit_main(["train", "srresnet", "--init", str(checkpoint), "--scale", "2", *flags])
    tuned = load_model(tmp_path / "run" / "model.safetensors")
    assert tuned.state_dict().keys() == start.state_dict().keys()


def _effective(*argv: str):
    from srkit.testing import effective_config

    return effective_config("srgan", *argv)


def test_quick_preset_phases_follow_the_users_iters(tmp_path):
    config = _effective("--preset", "quick", "--content-loss", "mse", "--iters", "12",
                        "--out", str(tmp_path / "run"))
    assert (config.iters, config.pretrain_iters, config.val_every, config.save_every) == (12, 6, 6, 6)
    config = _effective("--preset", "quick", "--content-loss", "mse", "--out", str(tmp_path / "run"))
    assert (config.iters, config.pretrain_iters) == (60, 30)
    config = _effective("--preset", "quick", "--content-loss", "mse", "--iters", "12",
                        "--pretrain-iters", "2", "--out", str(tmp_path / "run"))
    assert config.pretrain_iters == 2
