"""What a training run leaves behind, EMA export, --init, and the non-finite loss guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srkit.cli import main
from srkit.weights.files import load_model, weights_info
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_run_folder_holds_weights_config_log_samples_and_checkpoints(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, iters=6))

    model = load_model(out / "model.safetensors", scale=2)
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)
    assert weights_info(out / "model.safetensors")["config"]["recipe"] == "tiny"
    assert (out / "config.toml").is_file()
    validations = [e for e in _log(out) if "val.psnr" in e]
    assert [e["iteration"] for e in validations] == [0, 3, 6]
    assert all(0 < e["val.ssim"] <= 1 for e in validations)
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == [f"iter_{i:06d}_img{k}.png" for i in (0, 3, 6) for k in (0, 1)]
    checkpoints = out / "checkpoints"
    assert json.loads((checkpoints / "latest.json").read_text())["iteration"] == 6
    assert (checkpoints / "best.safetensors").is_file()


def test_best_checkpoint_holds_the_best_validated_weights(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, "--learning-rate", "1e-2", iters=6))
    state = json.loads((out / "checkpoints" / "latest.json").read_text())
    best_logged = max(e["val.psnr"] for e in _log(out) if "val.psnr" in e and e["iteration"] > 0)
    assert state["best_psnr"] == best_logged


def test_ema_weights_are_exported_when_ema_is_on(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, "--ema", "0.5", "--learning-rate", "1e-2", iters=3))
    exported = load_file(out / "model.safetensors")
    state = json.loads((out / "checkpoints" / "latest.json").read_text())
    tensors = load_file(out / "checkpoints" / state["tensors"])
    for key, value in exported.items():
        assert torch.equal(value, tensors[f"ema.generator.{key}"])
    assert any(not torch.equal(v, tensors[f"net.generator.{k}"]) for k, v in exported.items())


def test_non_finite_loss_stops_naming_term_and_iteration(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        main(tiny_args(out, val, "--nan-at", "4", iters=6))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "fake_term" in err and "iteration 5" in err
    # the checkpoint of iteration 3 is untouched
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["iteration"] == 3


def test_init_starts_from_given_weights(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    main(tiny_args(tmp_path / "first", val, "--learning-rate", "1e-2", iters=3))
    weights = tmp_path / "first" / "model.safetensors"
    main(tiny_args(tmp_path / "second", val, "--init", str(weights), "--learning-rate", "1e-9", iters=1))
    first, second = load_file(weights), load_file(tmp_path / "second" / "model.safetensors")
    assert all(torch.allclose(first[k], second[k], atol=1e-6) for k in first)


def test_init_with_weights_of_another_scale_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    main(tiny_args(tmp_path / "first", val, iters=1))
    weights = tmp_path / "first" / "model.safetensors"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*tiny_args(tmp_path / "second", val, "--init", str(weights)), "--scale", "4"])
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "x2" in err and err.count("\n") == 1
    assert "--scale 4" in err and "leave out --scale" in err


def test_init_without_scale_trains_at_the_files_scale(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    main(tiny_args(tmp_path / "first", val, iters=1))
    weights = tmp_path / "first" / "model.safetensors"
    args = tiny_args(tmp_path / "second", val, "--init", str(weights), iters=1)
    scale_at = args.index("--scale")
    del args[scale_at:scale_at + 2]  # the tiny recipe's default scale is 4; the file says 2
    main(args)
    assert weights_info(tmp_path / "second" / "model.safetensors")["scale"] == 2
