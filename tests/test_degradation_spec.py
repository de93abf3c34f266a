"""Degradation specs ``NAME[:key=value,...]``: parsing, typed parameters, one-line errors, train path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srkit.cli import main
from srkit.degradations import BlurBicubicDegradation
from srkit.degradations.spec import build_degradation, parse_spec
from srkit.errors import SrkitError
from tests.cli_helpers import expect_one_line_error
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


def test_spec_splits_into_name_and_parameters() -> None:
    assert parse_spec("bicubic") == ("bicubic", {})
    assert parse_spec(" blur-bicubic : sigma = 2 , kernel-size=9 ") == (
        "blur-bicubic", {"sigma": "2", "kernel_size": "9"})


def test_values_take_the_type_of_the_factory_default() -> None:
    degrade = build_degradation("blur-bicubic:sigma=2,kernel_size=9")
    assert isinstance(degrade, BlurBicubicDegradation)
    assert (degrade.sigma, degrade.kernel_size) == (2.0, 9)
    assert isinstance(degrade.sigma, float)


@pytest.mark.parametrize(("spec", "message"), [
    ("blur-bicubic:radius=2", "degradation 'blur-bicubic' has no radius option (options: sigma,"),
    ("blur-bicubic:sigma=wide", "degradation 'blur-bicubic': sigma must be float, got 'wide'"),
    ("blur-bicubic:sigma", "'sigma' is not key=value"),
    ("blur-bicubic:sigma=1,sigma=2", "sigma is given twice"),
    (":sigma=1", "no name before ':'"),
    ("bicubic:sigma=1", "degradation 'bicubic' has no sigma option (options: none)"),
    ("nosuch:a=1", "unknown degradation 'nosuch'"),
])
def test_bad_specs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(SrkitError) as info:
        build_degradation(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_option_given_twice_is_refused() -> None:
    with pytest.raises(SrkitError, match="given both in the spec and as an option"):
        build_degradation("blur-bicubic:sigma=1", sigma=2.0)


def test_train_uses_the_degradation_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    use_tiny_plugin(monkeypatch)
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main([*tiny_args(out, val, iters=2), "--data", str(val), "--degradation",
          "blur-bicubic:sigma=0.8"])
    assert (out / "model.safetensors").exists()
    assert "blur-bicubic:sigma=0.8" in (out / "config.toml").read_text()
    losses = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any("loss" in key for record in losses for key in record)
    capsys.readouterr()
    err = expect_one_line_error([*tiny_args(tmp_path / "bad", val, iters=2), "--data", str(val),
                                 "--degradation", "blur-bicubic:radius=1"], capsys)
    assert "has no radius option" in err
