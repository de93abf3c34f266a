"""``srkit train srgan`` through the real CLI and trainer, on tiny networks."""

import json

import pytest

from srkit.cli import main

TINY_FLAGS = ["--scale", "2", "--channels", "8", "--blocks", "2", "--d-channels", "8",
              "--patch-size", "32", "--batch-size", "2", "--workers", "0", "--log-every", "1",
              "--device", "cpu"]


def test_srgan_without_vgg_weights_stops_at_once_saying_where_to_put_them(tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(SystemExit) as info:
        main(["train", "srgan", "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in err
    assert "--vgg-weights FILE" in err and "--content-loss mse" in err
    assert not (tmp_path / "run" / "log.jsonl").exists()


@pytest.mark.slow
def test_srgan_trains_both_phases_and_logs_every_term(tmp_path):
    out = tmp_path / "run"
    main(["train", "srgan", "--content-loss", "mse", "--iters", "4", "--out", str(out),
          *TINY_FLAGS])
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if "phase" in r]
    assert [r["phase"] for r in steps] == ["pretrain", "pretrain", "gan", "gan"]
    for key in ("content", "adv", "g_total", "d_real_loss", "d_fake_loss", "d_real", "d_fake"):
        assert f"loss.{key}" in steps[-1]
    assert (out / "model.safetensors").is_file()
