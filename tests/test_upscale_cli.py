"""``srkit upscale``: files and folders in, PNGs with the same names out; bad input in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from srkit.imageio import load_image
from srkit.nn.models import build_generator
from srkit.weights.files import save_weights
from tests.cli_helpers import run_cli


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "more").mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    for name, size in (("photo.jpg", (24, 16)), ("more/a.png", (10, 12)), ("more/b.bmp", (9, 9))):
        pixels = (torch.rand(size[1], size[0], 3, generator=generator) * 255).byte().numpy()
        Image.fromarray(pixels).save(folder / name)
    return folder


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "x2.safetensors"
    save_weights(build_generator("bicubic", scale=2), path)
    return path


def test_files_and_folders_become_pngs_with_the_same_names(capsys, inputs: Path, weights: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "upscale", "--weights", str(weights), "--device", "cpu",
                           str(inputs / "photo.jpg"), str(inputs / "more"), "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "photo.png"]
    with Image.open(out / "photo.png") as image:
        assert image.size == (48, 32)
    with Image.open(out / "b.png") as image:
        assert image.size == (18, 18)


def test_tiled_and_whole_cli_results_agree_within_one_level(capsys, inputs: Path, weights: Path,
                                                            tmp_path: Path) -> None:
    photo = str(inputs / "photo.jpg")
    for name, extra in (("whole", ()), ("tiled", ("--tile", "5", "--overlap", "4"))):
        code, _, err = run_cli(capsys, "upscale", "--weights", str(weights), "--device", "cpu",
                               photo, "--out", str(tmp_path / name), *extra)
        assert code == 0, err
    whole = load_image(tmp_path / "whole" / "photo.png")
    tiled = load_image(tmp_path / "tiled" / "photo.png")
    assert (whole - tiled).abs().max() <= 1 / 255 + 1e-6


def test_bicubic_model_needs_no_weights(capsys, inputs: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "upscale", "--model", "bicubic", "--scale", "3", "--device",
                           "cpu", str(inputs / "more" / "a.png"), "--out", str(tmp_path / "o"))
    assert code == 0, err
    with Image.open(tmp_path / "o" / "a.png") as image:
        assert image.size == (30, 36)


def one_line_error(capsys, *argv: str) -> str:
    code, out, err = run_cli(capsys, "upscale", "--device", "cpu", *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_missing_input_is_a_one_line_error(capsys, weights: Path, tmp_path: Path) -> None:
    message = one_line_error(capsys, "--weights", str(weights), str(tmp_path / "nope.png"),
                             "--out", str(tmp_path / "o"))
    assert "nope.png: no such file or folder" in message


def test_two_inputs_with_one_output_name_is_an_error(capsys, inputs: Path, weights: Path,
                                                     tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(inputs / "more" / "photo.png")
    message = one_line_error(capsys, "--weights", str(weights), str(inputs / "photo.jpg"),
                             str(inputs / "more"), "--out", str(tmp_path / "o"))
    assert "would both be written to" in message


def test_weights_for_another_scale_are_an_error(capsys, inputs: Path, weights: Path,
                                                tmp_path: Path) -> None:
    message = one_line_error(capsys, "--weights", str(weights), "--scale", "4",
                             str(inputs / "photo.jpg"), "--out", str(tmp_path / "o"))
    assert "weights are for x2, not x4" in message


def test_without_weights_or_model_is_an_error(capsys, inputs: Path, tmp_path: Path) -> None:
    message = one_line_error(capsys, str(inputs / "photo.jpg"), "--out", str(tmp_path / "o"))
    assert "--weights FILE is required" in message


def test_non_image_file_is_an_error(capsys, weights: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    message = one_line_error(capsys, "--weights", str(weights), str(notes), "--out",
                             str(tmp_path / "o"))
    assert "notes.txt: not an image file" in message


def _available(monkeypatch: pytest.MonkeyPatch, host_bytes: int) -> None:
    """Pretend the machine has ``host_bytes`` of free RAM, and a tile needs 1000 bytes."""
    from srkit import memory

    monkeypatch.setattr(memory, "available_bytes",
                        lambda device: host_bytes if device.type == "cpu" else None)
    monkeypatch.setattr(memory, "STREAM_TILE_ALLOWANCE", 1000)


def test_output_too_large_to_hold_whole_is_assembled_tile_by_tile(
        capsys, monkeypatch: pytest.MonkeyPatch, inputs: Path, weights: Path, tmp_path: Path) -> None:
    from srkit import memory

    photo = str(inputs / "photo.jpg")  # 24x16 -> a 48x32 output of 1536 pixels
    args = ("upscale", "--weights", str(weights), "--device", "cpu", photo, "--tile", "7",
            "--overlap", "4")
    code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "whole"))
    assert code == 0 and "tile by tile" not in err, err
    _available(monkeypatch, 1536 * memory.WHOLE_BYTES_PER_PIXEL - 1)
    code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "streamed"))
    assert code == 0, err
    assert f"{photo}: the output does not fit in memory whole; assembling it tile by tile" in err
    whole = load_image(tmp_path / "whole" / "photo.png")
    streamed = load_image(tmp_path / "streamed" / "photo.png")
    assert torch.equal(whole, streamed)  # the same tiles, quantised the same way


def test_output_too_large_even_tile_by_tile_is_refused_with_the_size_needed(
        capsys, monkeypatch: pytest.MonkeyPatch, inputs: Path, weights: Path, tmp_path: Path) -> None:
    _available(monkeypatch, 7000)
    code, _, err = run_cli(capsys, "upscale", "--weights", str(weights), "--device", "cpu",
                           str(inputs / "photo.jpg"), "--out", str(tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1, err
    assert (f"error: {inputs / 'photo.jpg'}: the 48x32 output needs at least 7.1 kB of memory "
            "even assembled tile by tile, and 7.0 kB is available") in err
    assert not (tmp_path / "out" / "photo.png").exists()


def test_huge_image_is_planned_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from srkit import memory
    from srkit.errors import SrkitError

    monkeypatch.setattr(memory, "available_bytes",
                        lambda device: 64 * 10**9 if device.type == "cpu" else None)
    cpu = torch.device("cpu")
    assert memory.output_plan("small.png", 4000, 3000, cpu) == "whole"
    assert memory.output_plan("big.png", 48000, 48000, cpu) == "streamed"  # 12000x12000 at x4
    with pytest.raises(SrkitError, match=r"huge.png: the 200000x200000 output needs at least "
                                         r"160\.3 GB of memory .* 64\.0 GB is available"):
        memory.output_plan("huge.png", 200000, 200000, cpu)
