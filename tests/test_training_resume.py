"""Exact resume: an interrupted run continued with --resume ends bit-identical; crash safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srkit.cli import main
from tests import fake_recipe
from tests.cli_helpers import expect_one_line_error
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)


def _latest_tensors(out: Path) -> dict[str, torch.Tensor]:
    latest = json.loads((out / "checkpoints" / "latest.json").read_text())
    return load_file(out / "checkpoints" / latest["tensors"])


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, iteration: int) -> None:
    """Make the tiny recipe raise KeyboardInterrupt (a Ctrl-C) when it reaches ``iteration``."""
    original = fake_recipe.TinyRecipe.train_step

    def train_step(self, batch, ctx):  # noqa: ANN001, ANN202
        if ctx.iteration == iteration:
            raise KeyboardInterrupt
        return original(self, batch, ctx)

    monkeypatch.setattr(fake_recipe.TinyRecipe, "train_step", train_step)


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_resumed_run_is_bit_identical_to_uninterrupted_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    val = make_image_folder(tmp_path / "val")
    options = ("--workers", str(workers), "--noise", "--learning-rate-schedule", "cosine", "--ema", "0.9",
               "--grad-clip", "1.0", "--learning-rate", "1e-2", "--val-every", "0")
    main(tiny_args(tmp_path / "straight", val, *options, iters=9))

    with monkeypatch.context() as patch:
        _interrupt_at(patch, 8)  # after the checkpoint at 6 and the log record of 8
        with pytest.raises(SystemExit) as interrupted:
            main(tiny_args(tmp_path / "resumed", val, *options, iters=9))
    assert interrupted.value.code == 130
    assert _latest_tensors(tmp_path / "resumed").keys()  # a checkpoint exists
    main(tiny_args(tmp_path / "resumed", val, *options, "--resume", iters=9))

    straight, resumed = _latest_tensors(tmp_path / "straight"), _latest_tensors(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    assert any(k.startswith("optim.") for k in straight) and any(k.startswith("ema.") for k in straight)
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    exported = [load_file(tmp_path / run / "model.safetensors") for run in ("straight", "resumed")]
    logs = [[json.loads(line)["iteration"] for line in (tmp_path / run / "log.jsonl").open()]
            for run in ("straight", "resumed")]
    assert logs[0] == logs[1]  # the record of the lost iteration 8 was dropped on resume
    assert all(torch.equal(exported[0][k], exported[1][k]) for k in exported[0])


def test_torn_temp_files_do_not_break_resume(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, iters=6))
    checkpoints = out / "checkpoints"
    # what a kill during the next save would leave: a half-written temp file of each kind
    (checkpoints / ".ckpt-0000009.safetensors.abc.tmp").write_bytes(b"\x00" * 10)
    (checkpoints / ".latest.json.abc.tmp").write_text('{"iteration": 9, "tens')
    main(tiny_args(out, val, "--resume", iters=9))
    assert _latest_tensors(out)  # resumed and saved at 9
    assert json.loads((checkpoints / "latest.json").read_text())["iteration"] == 9
    assert not list(checkpoints.glob(".*.tmp"))  # cleaned up


def test_crash_between_tensor_file_and_json_keeps_previous_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from srkit.training import state as checkpoint

    folder = tmp_path / "checkpoints"
    checkpoint.write_checkpoint(folder, 3, {"w": torch.ones(2)}, {"config": {}})

    def crash(path: Path, text: str) -> None:
        raise KeyboardInterrupt  # killed after the tensor file, before latest.json

    monkeypatch.setattr(checkpoint, "atomic_write_text", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.write_checkpoint(folder, 6, {"w": torch.zeros(2)}, {"config": {}})
    loaded = checkpoint.read_checkpoint(folder)
    assert loaded.iteration == 3
    assert torch.equal(loaded.tensors["w"], torch.ones(2))


def test_only_the_latest_two_tensor_files_are_kept(tmp_path: Path) -> None:
    from srkit.training import state as checkpoint

    folder = tmp_path / "checkpoints"
    for iteration in (3, 6, 9):
        checkpoint.write_checkpoint(folder, iteration, {"w": torch.ones(1)}, {})
    kept = sorted(p.name for p in folder.glob("ckpt-*.safetensors"))
    assert kept == [checkpoint.tensor_file_name(6), checkpoint.tensor_file_name(9)]



def test_resume_without_checkpoint_is_a_one_line_error(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    err = expect_one_line_error(tiny_args(tmp_path / "empty", val, "--resume"), capsys)
    assert "no checkpoint" in err


def test_resume_with_another_scale_or_recipe_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, iters=3))
    capsys.readouterr()
    err = expect_one_line_error([*tiny_args(out, val, "--resume", iters=6), "--scale", "4"], capsys)
    assert "x2" in err and "x4" in err
    other = tiny_args(out, val, "--resume", iters=6)
    other[1] = "tiny-other"
    err = expect_one_line_error(other, capsys)
    assert "'tiny'" in err and "'tiny-other'" in err


def test_resume_needs_only_out_and_resume(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, "--scale", "3", "--patch-size", "12", iters=3))
    main(["train", "tiny", "--out", str(out), "--resume", "--iters", "6"])
    state = json.loads((out / "checkpoints" / "latest.json").read_text())
    assert state["iteration"] == 6 and state["config"]["scale"] == 3


def test_new_run_into_existing_run_folder_is_refused(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    main(tiny_args(tmp_path / "run", val, iters=3))
    capsys.readouterr()
    err = expect_one_line_error(tiny_args(tmp_path / "run", val, iters=3), capsys)
    assert "--resume" in err
