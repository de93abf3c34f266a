"""Recipes change inherited defaults without re-declaring options, derive defaults from other
options (e.g. ``--scale``), and offer named presets (``--preset NAME``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from srkit.cli import main
from srkit.config import Derived, TrainConfig, by_scale, option
from srkit.training.config_io import field_specs, read_config_file
from tests.cli_helpers import expect_one_line_error
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


@dataclass
class PaperConfig(TrainConfig):
    defaults = {"iters": Derived(lambda c: c.warmup + 100, "warmup + 100"),
                "patch_size": by_scale({2: 64, 4: 96}), "batch_size": 32}
    warmup: int = option(Derived(lambda c: 0 if c.init else 10, "10, 0 with --init"), "warmup")


def test_inherited_defaults_change_and_keep_their_help_and_position() -> None:
    names = [f.name for f in dataclasses.fields(PaperConfig)]
    assert names.index("batch_size") == [f.name for f in dataclasses.fields(TrainConfig)].index(
        "batch_size")
    specs = {s.name: s for s in field_specs(PaperConfig)}
    assert specs["batch_size"].default == 32 and specs["batch_size"].help == "batch size per process"
    assert str(specs["patch_size"].default) == "64 at x2, 96 at x4"
    assert PaperConfig().batch_size == 32 and TrainConfig().batch_size == 16


def test_derived_defaults_follow_the_options_they_depend_on() -> None:
    assert (PaperConfig().iters, PaperConfig().patch_size) == (110, 96)
    assert PaperConfig(scale=2).patch_size == 64
    assert (PaperConfig(init="w.safetensors").iters, PaperConfig(warmup=5).iters) == (100, 105)
    assert PaperConfig(iters=7, patch_size=8).iters == 7  # a given value wins


def test_a_scale_without_a_default_asks_for_the_option() -> None:
    from srkit.errors import SrkitError

    with pytest.raises(SrkitError, match="no default for x8"):
        PaperConfig(scale=8)
    assert PaperConfig(scale=8, patch_size=128).patch_size == 128


def test_unknown_default_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="not an inherited option"):
        @dataclass
        class Wrong(TrainConfig):
            defaults = {"no_such_option": 1}


def test_preset_sets_options_that_flags_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    use_tiny_plugin(monkeypatch)
    from tests import fake_recipe

    monkeypatch.setattr(fake_recipe.TinyConfig, "presets",
                        {"short": ("two steps at learning rate 0.01", {"iters": 2, "learning_rate": 0.01,
                                                             "loss": "mse"})}, raising=False)
    main(["train", "tiny", "--help"])
    assert "--preset [short]" in capsys.readouterr().out
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    args = [a for a in tiny_args(out, val) if a not in ("--iters", "6")]
    main([*args, "--preset", "short", "--learning-rate", "0.005"])
    effective = read_config_file(out / "config.toml")
    assert (effective["iters"], effective["loss"], effective["learning_rate"]) == (2, "mse", 0.005)


def test_builtin_recipes_list_their_quick_preset(capsys: pytest.CaptureFixture[str]) -> None:
    for recipe in ("srresnet", "srgan", "drn"):
        main(["train", recipe, "--help"])
        assert "--preset [quick]" in capsys.readouterr().out


def test_unknown_preset_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = expect_one_line_error(["train", "srresnet", "--preset", "nosuch"], capsys)
    assert "nosuch" in err
