"""``srkit train``: recipe subcommands, config files vs flags, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srkit.cli import main
from srkit.training.config_io import read_config_file
from tests.cli_helpers import expect_one_line_error
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)



def test_recipes_are_listed_as_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    main(["train", "--help"])
    assert "tiny" in capsys.readouterr().out


def test_recipe_options_come_from_its_config_class(capsys: pytest.CaptureFixture[str]) -> None:
    main(["train", "tiny", "--help"])
    out = capsys.readouterr().out
    for flag in ("--batch-size", "--channels-last / --no-channels-last", "--loss", "--nan-at",
                 "--config"):
        assert flag in out


def test_unknown_recipe_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = expect_one_line_error(["train", "nosuch"], capsys)
    assert "unknown recipe 'nosuch'" in err and "tiny" in err


def test_flags_win_over_config_file_which_wins_over_defaults(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    config = tmp_path / "run.toml"
    config.write_text('iters = 4\nbatch-size = 3\nlearning-rate = 0.002\nloss = "mse"\n')
    out = tmp_path / "run"
    main([*tiny_args(out, val, iters=2), "--config", str(config), "--learning-rate", "0.005"])
    effective = read_config_file(out / "config.toml")
    assert effective["recipe"] == "tiny"
    assert effective["iters"] == 2  # flag beats the file
    assert effective["learning_rate"] == 0.005  # flag beats the file
    assert effective["loss"] == "mse"  # file beats the default
    assert effective["learning_rate_gamma"] == 0.1  # default
    # tiny_args passes --batch-size explicitly, so the file's 3 loses
    assert effective["batch_size"] == 2


def test_yaml_config_file_is_read(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    config = tmp_path / "run.yaml"
    config.write_text(f"iters: 2\nscale: 2\npatch_size: 16\nbatch_size: 2\nworkers: 0\n"
                      f"val: {val}\ndevice: cpu\nout: {tmp_path / 'run'}\nlog_every: 1\n")
    main(["train", "tiny", "--config", str(config)])
    effective = read_config_file(tmp_path / "run" / "config.toml")
    assert effective["iters"] == 2 and effective["log_every"] == 1


def test_written_config_toml_reproduces_the_run_config(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    main(tiny_args(tmp_path / "a", val, "--loss", "mse", iters=2))
    main(["train", "tiny", "--config", str(tmp_path / "a" / "config.toml"),
          "--out", str(tmp_path / "b")])
    a = read_config_file(tmp_path / "a" / "config.toml")
    b = read_config_file(tmp_path / "b" / "config.toml")
    assert {**a, "out": None} == {**b, "out": None}


def test_unknown_config_key_names_key_and_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("iters = 4\nbatchsize = 3\n")
    err = expect_one_line_error(["train", "tiny", "--config", str(config)], capsys)
    assert "batchsize" in err and str(config) in err


def test_wrongly_typed_config_value_is_a_one_line_error(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('iters = "many"\n')
    err = expect_one_line_error(["train", "tiny", "--config", str(config)], capsys)
    assert "iters" in err and "int" in err


def test_missing_data_folder_is_a_one_line_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    err = expect_one_line_error([*tiny_args(tmp_path / "run", val), "--data", str(tmp_path / "nope")],
                        capsys)
    assert "nope" in err


@pytest.mark.parametrize(("size", "problem"), [
    ((1, 1), "1x1 image is smaller than scale 2"),
    ((12, 12), "12x12 image is too small to validate x2 (needs at least 15x15)"),
])
def test_bad_validation_image_is_a_one_line_error_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], size: tuple[int, int],
        problem: str) -> None:
    val = make_image_folder(tmp_path / "val")
    make_image_folder(tmp_path / "odd", count=1, size=size)
    (tmp_path / "odd" / "img0.png").rename(val / "small.png")
    err = expect_one_line_error(tiny_args(tmp_path / "run", val), capsys)
    assert f"--val: {val / 'small.png'}: " in err and problem in err, err


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--resume", "--init", "w.safetensors"], ["--resume", "--init"]),
        (["--data-lr", "lr/"], ["--data-lr", "--data"]),
        (["--patch-size", "15"], ["--patch-size", "--scale"]),
        (["--ema", "1.5"], ["--ema"]),
    ],
)
def test_conflicting_or_invalid_flags_are_one_line_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
        words: list[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    err = expect_one_line_error([*tiny_args(tmp_path / "run", val), *extra], capsys)
    assert all(w in err for w in words), err


def test_log_has_losses_lr_and_throughput(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    main(tiny_args(tmp_path / "run", val, iters=4))
    entries = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [e for e in entries if "loss.pixel" in e]
    assert [e["iteration"] for e in steps] == [2, 4]
    assert all(e["learning_rate.generator"] == 1e-4 and e["it_per_s"] > 0 and e["hr_mpix_per_s"] > 0
               and e["phase"] == "train" for e in steps)
