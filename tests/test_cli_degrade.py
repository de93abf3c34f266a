"""``srkit degrade``: names, sizes and pixels of the LR folder, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srkit.cli import main
from srkit.degradations.bicubic import BicubicDegradation, BlurBicubicDegradation
from srkit.evaluation.protocol import modcrop
from srkit.imageio import load_image


def _write_image(path: Path, width: int, height: int, seed: int = 0) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=95)


Capsys = pytest.CaptureFixture[str]


def _degrade_argv(root: Path, hr: str = "hr", out: str = "lr", scale: int = 4) -> list[str]:
    return ["degrade", str(root / hr), str(root / out), "--scale", str(scale)]


def _run_and_expect_error(argv: list[str], capsys: Capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    return err


def test_degrade_keeps_names_and_makes_hr_size_over_scale(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "wide.png", 64, 48)
    _write_image(tmp_path / "hr" / "odd.png", 50, 37)  # cropped to 48x36 first
    _write_image(tmp_path / "hr" / "photo.jpg", 40, 40)
    main(["degrade", str(tmp_path / "hr"), str(tmp_path / "lr"), "--scale", "4"])
    sizes = {p.name: Image.open(p).size for p in (tmp_path / "lr").iterdir()}
    assert sizes == {"wide.png": (16, 12), "odd.png": (12, 9), "photo.png": (10, 10)}


def test_degrade_output_is_the_quantised_bicubic_of_the_modcropped_hr(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "a.png", 50, 37)
    main(["degrade", str(tmp_path / "hr"), str(tmp_path / "lr"), "-s", "4"])
    hr = modcrop(load_image(tmp_path / "hr" / "a.png"), 4)
    expected = BicubicDegradation()(hr[None], 4)[0].clamp(0, 1).mul(255).round() / 255
    assert torch.equal(load_image(tmp_path / "lr" / "a.png"), expected)


def test_degrade_passes_sigma_to_blur_bicubic(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "a.png", 64, 48)
    argv = ["degrade", str(tmp_path / "hr"), str(tmp_path / "lr"), "-s", "2"]
    main([*argv, "-d", "blur-bicubic", "--sigma", "0.8"])
    hr = load_image(tmp_path / "hr" / "a.png")[None]
    expected = BlurBicubicDegradation(sigma=0.8)(hr, 2)[0].clamp(0, 1).mul(255).round() / 255
    assert torch.equal(load_image(tmp_path / "lr" / "a.png"), expected)


def test_bundled_set_name_is_accepted_as_input(tmp_path: Path) -> None:
    main(["degrade", "SET5", str(tmp_path / "lr"), "-s", "8"])
    names = sorted(p.name for p in (tmp_path / "lr").iterdir())
    assert names == ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
    assert Image.open(tmp_path / "lr" / "baby.png").size == (64, 64)


def test_div2k_names_append_the_scale(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "0001.png", 32, 32)
    main(["degrade", str(tmp_path / "hr"), str(tmp_path / "lr"), "-s", "8", "--div2k-names"])
    assert [p.name for p in (tmp_path / "lr").iterdir()] == ["0001x8.png"]


def test_unreadable_and_too_small_images_are_skipped_with_warnings(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "good.png", 32, 32)
    _write_image(tmp_path / "hr" / "tiny.png", 3, 20)
    (tmp_path / "hr" / "broken.png").write_text("not an image")
    with pytest.warns(UserWarning) as record:
        main(["degrade", str(tmp_path / "hr"), str(tmp_path / "lr"), "-s", "4"])
    messages = [str(w.message) for w in record]
    assert any("broken.png: cannot read image" in m and "skipped" in m for m in messages)
    assert any("tiny.png: 3x20 is smaller than the scale 4" in m for m in messages)
    assert [p.name for p in (tmp_path / "lr").iterdir()] == ["good.png"]


def test_missing_folder_is_a_one_line_error(tmp_path: Path, capsys: Capsys) -> None:
    err = _run_and_expect_error(_degrade_argv(tmp_path, hr="nope"), capsys)
    assert f"{tmp_path / 'nope'}: not a folder and not a bundled dataset" in err


def test_empty_folder_is_a_one_line_error(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "hr").mkdir()
    err = _run_and_expect_error(_degrade_argv(tmp_path), capsys)
    assert f"{tmp_path / 'hr'}: no images found" in err


def test_writing_into_the_hr_folder_is_refused(tmp_path: Path, capsys: Capsys) -> None:
    _write_image(tmp_path / "hr" / "a.png", 32, 32)
    err = _run_and_expect_error(_degrade_argv(tmp_path, out="hr"), capsys)
    assert "OUT_DIR is the input" in err


@pytest.mark.parametrize(("options", "expected"), [
    (["--sigma", "1"], "has no sigma option"),
    (["-d", "nope"], "bicubic"),  # an unknown degradation lists the installed ones
])
def test_bad_degradation_options_are_one_line_errors(
    tmp_path: Path, capsys: Capsys, options: list[str], expected: str
) -> None:
    _write_image(tmp_path / "hr" / "a.png", 32, 32)
    argv = ["degrade", str(tmp_path / "hr"), str(tmp_path / "lr"), "-s", "4", *options]
    assert expected in _run_and_expect_error(argv, capsys)


def test_two_files_that_would_share_an_output_name_are_an_error(
    tmp_path: Path, capsys: Capsys
) -> None:
    _write_image(tmp_path / "hr" / "a.png", 32, 32)
    _write_image(tmp_path / "hr" / "a.jpg", 32, 32)
    err = _run_and_expect_error(_degrade_argv(tmp_path), capsys)
    assert "would be written as a.png" in err
