"""``lr`` means a low-resolution image in srkit; the learning rate is ``learning_rate``.

The learning-rate options were called ``lr``, ``lr_schedule``, ... and ``d_lr``: those names
still work everywhere a user or a plugin could have written them, with a warning, and runs
saved under them resume with their values.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from srkit.cli import main
from srkit.config import option, renamed_options
from srkit.plugins import get_registry
from srkit.training.config_io import read_config_file
from srkit.training.pixel_recipe import PixelConfig
from tests.cli_helpers import expect_one_line_error
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin

OLD_NAMES = {"lr": "learning_rate", "lr_schedule": "learning_rate_schedule",
             "lr_milestones": "learning_rate_milestones", "lr_gamma": "learning_rate_gamma",
             "lr_min": "learning_rate_min"}


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)


def _effective(out: Path) -> dict[str, Any]:
    return read_config_file(out / "config.toml")


def test_no_option_of_any_recipe_calls_a_learning_rate_lr() -> None:
    """Options about the learning rate say so in their name; ``lr`` in a name is an LR image."""
    for recipe in get_registry().names("recipe"):
        config_class = get_registry().get("recipe", recipe).config_class
        for field in dataclasses.fields(config_class):
            words = field.name.split("_")
            about_learning_rate = "learning rate" in field.metadata.get("help", "").lower()
            assert not (about_learning_rate and "lr" in words), (recipe, field.name)
            if "lr" in words:
                assert "LR" in field.metadata.get("help", ""), (recipe, field.name)


def test_every_old_name_maps_to_its_new_one() -> None:
    assert renamed_options(PixelConfig) == OLD_NAMES
    srgan = get_registry().get("recipe", "srgan").config_class
    assert renamed_options(srgan) == {**OLD_NAMES, "d_lr": "discriminator_learning_rate"}


def test_old_flags_still_set_the_options_with_a_warning(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    with pytest.warns(FutureWarning) as warned:
        main(tiny_args(out, val, "--lr", "0.005", "--lr-schedule", "cosine", "--lr-min", "1e-5",
                       iters=2))
    assert sorted(str(w.message).split(";")[0] for w in warned) == [
        "--lr is now called --learning-rate", "--lr-min is now called --learning-rate-min",
        "--lr-schedule is now called --learning-rate-schedule"]
    effective = _effective(out)
    assert (effective["learning_rate"], effective["learning_rate_schedule"],
            effective["learning_rate_min"]) == (0.005, "cosine", 1e-5)
    assert not set(OLD_NAMES) & set(effective)


def test_old_and_new_flag_together_is_one_line_error(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    err = expect_one_line_error(
        tiny_args(tmp_path / "run", val, "--lr", "1e-3", "--learning-rate", "1e-3"), capsys)
    assert "--lr and --learning-rate are the same option" in err
    assert not (tmp_path / "run").exists()


def test_old_keys_in_a_config_file_are_read_with_a_warning_naming_the_file(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    config = tmp_path / "old.toml"
    config.write_text('lr = 0.002\nlr-gamma = 0.5\nlr-schedule = "multistep"\n')
    out = tmp_path / "run"
    with pytest.warns(FutureWarning) as warned:
        main([*tiny_args(out, val, iters=2), "--config", str(config)])
    assert sorted(str(w.message).split(";")[0] for w in warned) == [
        f"{config}: {old} is now called {OLD_NAMES[old]}" for old in ("lr", "lr_gamma", "lr_schedule")]
    effective = _effective(out)
    assert (effective["learning_rate"], effective["learning_rate_gamma"],
            effective["learning_rate_schedule"]) == (0.002, 0.5, "multistep")


def test_old_and_new_key_in_one_file_is_one_line_error(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    config = tmp_path / "both.toml"
    config.write_text("lr = 0.002\nlearning_rate = 0.003\n")
    err = expect_one_line_error([*tiny_args(tmp_path / "run", val), "--config", str(config)], capsys)
    assert f"{config}: both 'lr' and its new name 'learning_rate' are set" in err


def test_run_saved_under_the_old_names_resumes_with_its_values(tmp_path: Path) -> None:
    """A checkpoint written before the rename holds ``lr``...: resuming keeps its learning rate."""
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, "--learning-rate", "0.0123", "--learning-rate-schedule", "cosine",
                   iters=3))
    latest = out / "checkpoints" / "latest.json"
    state = json.loads(latest.read_text())
    config = state["config"]
    for old, new in OLD_NAMES.items():
        config[old] = config.pop(new)
    latest.write_text(json.dumps(state))
    main(["train", "tiny", "--out", str(out), "--resume", "--iters", "4", "--device", "cpu",
          "--workers", "0"])
    effective = _effective(out)
    assert (effective["learning_rate"], effective["learning_rate_schedule"]) == (0.0123, "cosine")
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    rates = [e["learning_rate.generator"] for e in logged if "learning_rate.generator" in e]
    assert rates and all(0 < r <= 0.0123 for r in rates)
    assert not any(key.startswith("lr.") for entry in logged for key in entry)


def test_plugin_defaults_and_attribute_reads_under_old_names_still_work() -> None:
    with pytest.warns(FutureWarning) as warned:
        @dataclasses.dataclass
        class OldStyleConfig(PixelConfig):
            defaults: ClassVar[dict[str, Any]] = {"lr": 3e-3, "lr_schedule": "cosine"}
            extra: int = option(1, "an option of the plugin's own")

    assert [str(w.message).split(";")[0] for w in warned] == [
        "OldStyleConfig.defaults: lr is now called learning_rate",
        "OldStyleConfig.defaults: lr_schedule is now called learning_rate_schedule"]
    config = OldStyleConfig()
    assert (config.learning_rate, config.learning_rate_schedule) == (3e-3, "cosine")
    with pytest.warns(FutureWarning, match="lr is now called learning_rate"):
        assert config.lr == 3e-3  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        config.no_such_option  # type: ignore[attr-defined]  # noqa: B018
