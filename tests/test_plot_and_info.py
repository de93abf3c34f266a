"""Looking at a finished run: ``srkit plot`` draws its curves, ``srkit info`` reads its files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srkit.cli import main
from tests.cli_helpers import expect_one_line_error, run_cli
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_tiny_plugin(monkeypatch)
        main(tiny_args(root / "run", make_image_folder(root / "val"), iters=6))
    return root / "run"


def test_plot_writes_a_png_of_losses_and_validation(finished_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "curves.png"
    code, _, err = run_cli(capsys, "plot", str(finished_run), "--out", str(out))
    assert code == 0 and f"wrote {out}" in err
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (800, 650)
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels < 100).any() and (pixels == 255).mean() > 0.5  # lines on a white page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20


def test_plot_marks_where_a_stopped_run_stopped(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"iteration": 0, "val.psnr": 20.0, "val.ssim": 0.5}\n'
                                   '{"iteration": 5, "loss.pixel": 0.5}\n'
                                   '{"iteration": 7, "val.psnr": 22.0, "val.ssim": 0.6}\n'
                                   '{"iteration": 7, "stopped_by": "SIGINT"}\n')
    out = tmp_path / "curves.svg"
    code, _, err = run_cli(capsys, "plot", str(run), "--out", str(out))
    assert code == 0, err
    assert "stopped early (SIGINT) at 7" in out.read_text()  # matplotlib keeps each text as a comment


def test_plot_skips_records_with_a_non_finite_iteration_or_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"iteration": 1e400, "loss.pixel": 0.5}\n'
                                   '{"iteration": 2, "loss.pixel": 1e400}\n'
                                   '{"iteration": 3, "loss.pixel": 0.25}\n')
    code, _, err = run_cli(capsys, "plot", str(run))
    assert code == 0 and "Traceback" not in err, err
    assert (run / "curves.png").is_file()


def test_plot_of_a_folder_without_log_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = expect_one_line_error(["plot", str(tmp_path)], capsys)
    assert "no log.jsonl" in err


def test_plot_without_matplotlib_says_how_to_install_it(
        finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    err = expect_one_line_error(["plot", str(finished_run), "--out", str(tmp_path / "c.png")],
                                capsys)
    assert "pip install 'srkit[plot]'" in err


def test_info_shows_the_final_validation_of_exported_weights(
        finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "info", str(finished_run / "model.safetensors"))
    assert code == 0
    line = next(line for line in out.splitlines() if line.strip().startswith("validation:"))
    assert "dB" in line and "at iteration 6" in line and "; bicubic " in line
    assert "  training: iteration 6 of 6, finished" in out.splitlines()


def test_info_of_a_run_folder_describes_its_checkpoint_or_its_weights(
        finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "info", str(finished_run))
    assert code == 0, err
    assert "training checkpoint of recipe tiny" in out and str(finished_run / "model.safetensors") in out
    weights_only = tmp_path / "exported"
    weights_only.mkdir()
    (weights_only / "model.safetensors").write_bytes((finished_run / "model.safetensors").read_bytes())
    code, out, err = run_cli(capsys, "info", str(weights_only))
    assert code == 0, err
    assert out.startswith(f"{weights_only / 'model.safetensors'}: generator tiny")


def test_info_recognises_a_training_checkpoint(finished_run: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    tensors = finished_run / "checkpoints" / "ckpt-0000006.safetensors"
    code, out, err = run_cli(capsys, "info", str(tensors))
    assert code == 0, err
    assert "training checkpoint of recipe tiny x2 at iteration 6 of 6" in out
    assert f"srkit train tiny --resume --out {finished_run}" in out
    assert "convert" not in out + err
    code, folder_out, _ = run_cli(capsys, "info", str(finished_run / "checkpoints"))
    assert code == 0 and "iteration 6 of 6" in folder_out
