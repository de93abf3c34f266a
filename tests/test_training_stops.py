"""How a run ends when it must not go on: signals, a second run in its folder, divergence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srkit.cli import main
from srkit.training import state as checkpoint
from srkit.training.guards import MAX_ABS_WEIGHT, RunFolderLock, weight_problem
from tests import fake_recipe
from tests.cli_helpers import expect_one_line_error, run_cli
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)


def _start_training(out: Path, val: Path, *extra: str) -> subprocess.Popen[str]:
    """``srkit train tiny`` in a subprocess (so that it can receive real signals), in a process
    group of its own, as a terminal's foreground job is."""
    args = tiny_args(out, val, "--log-every", "1", "--save-every", "1000", "--val-every", "0",
                     *extra, iters=2000)
    env = {**os.environ, "SRKIT_PLUGIN_MODULES": "tests.fake_recipe",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    code = "import sys; from srkit.cli import main; main(sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_an_iteration(process: subprocess.Popen[str], out: Path) -> None:
    """Block until the run has logged a training iteration (so the loop is running)."""
    deadline = time.monotonic() + 120
    log = out / "log.jsonl"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"training ended early: {process.communicate()[1]}")
        if log.is_file() and any("loss." in line for line in log.read_text().splitlines()):
            return
        time.sleep(0.05)
    process.kill()
    pytest.fail("training logged no iteration within 120 s")


def _latest_iteration(out: Path) -> int:
    return json.loads((out / "checkpoints" / "latest.json").read_text())["iteration"]


@pytest.mark.parametrize(("signum", "exit_code"), [
    (signal.SIGTERM, 143),
    pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow),
    pytest.param(signal.SIGHUP, 129, marks=pytest.mark.slow)])
def test_signal_saves_a_checkpoint_prints_the_resume_command_and_resume_continues(
        tmp_path: Path, signum: int, exit_code: int, capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    process = _start_training(out, val, "--step-sleep", "0.02")
    _wait_for_an_iteration(process, out)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)

    assert process.returncode == exit_code, err
    stopped_at = _latest_iteration(out)
    assert 1 <= stopped_at < 2000
    resume_command = f"srkit train tiny --out {out} --resume"
    assert err.strip().splitlines()[-1].endswith(f"resume with: {resume_command}"), err
    assert f"stopped at iteration {stopped_at}" in err
    assert not list(out.glob("**/.*.tmp"))
    _stopped_weights_say_where_they_stand(capsys, out, stopped_at, signal.Signals(signum).name)

    main([*resume_command.split()[1:], "--iters", str(stopped_at + 2), "--step-sleep", "0"])
    assert _latest_iteration(out) == stopped_at + 2
    records = [json.loads(line) for line in (out / "log.jsonl").open()]
    trained = [r["iteration"] for r in records if any(k.startswith("loss.") for k in r)]
    assert trained == list(range(1, stopped_at + 3))  # every iteration once, none lost


def _stopped_weights_say_where_they_stand(capsys: pytest.CaptureFixture[str], out: Path,
                                          stopped_at: int, signal_name: str) -> None:
    """The stopped run validated once at its last iteration; its weights, ``srkit info`` and
    ``srkit plot`` say so."""
    from srkit.training.report import read_stops
    from srkit.weights.files import weights_info

    info = weights_info(out / "model.safetensors")
    assert info["training"] == {"iteration": stopped_at, "iters": 2000, "stopped_by": signal_name}
    validation = info["validation"]
    assert validation["iteration"] == stopped_at and "bicubic_psnr" in validation
    records = [json.loads(line) for line in (out / "log.jsonl").open()]
    assert [r["iteration"] for r in records if "val.psnr" in r][-1] == stopped_at
    assert read_stops(out) == [(stopped_at, signal_name)]
    code, shown, err = run_cli(capsys, "info", str(out / "model.safetensors"))
    assert code == 0, err
    assert f"training: iteration {stopped_at} of 2000, stopped early ({signal_name})" in shown
    assert f"at iteration {stopped_at}; bicubic " in shown


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "exit_code"), [
    (signal.SIGINT, 130),  # Ctrl-C: a terminal signals the whole foreground group
    (signal.SIGTERM, 143)])  # timeout, Slurm and Kubernetes signal every process of the group
def test_a_signal_to_the_whole_process_group_with_data_workers_still_saves(
        tmp_path: Path, signum: int, exit_code: int) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    process = _start_training(out, val, "--step-sleep", "0.02", "--workers", "2")
    _wait_for_an_iteration(process, out)
    os.killpg(process.pid, signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == exit_code, err
    assert f"stopped at iteration {_latest_iteration(out)}" in err
    assert err.strip().splitlines()[-1].endswith(f"resume with: srkit train tiny --out {out} --resume")
    assert "Traceback" not in err and "exited unexpectedly" not in err and "killed by signal" not in err


def test_second_ctrl_c_stops_at_once_keeping_the_previous_checkpoint(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    # every step saves and then sleeps for 8 s: the second Ctrl-C lands inside a step even when a
    # loaded machine delays the signals by seconds
    process = _start_training(out, val, "--step-sleep", "8", "--save-every", "1")
    _wait_for_an_iteration(process, out)
    while not (out / "checkpoints" / "latest.json").is_file():  # saved right after the log
        time.sleep(0.05)
    before = _latest_iteration(out)
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    for line in process.stderr:  # the first Ctrl-C is acknowledged at once
        if "finishing the current step" in line:
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "SIGINT again: stopped at once" in err
    assert _latest_iteration(out) == before  # nothing saved after the first Ctrl-C
    assert checkpoint.read_checkpoint(out / "checkpoints").iteration == before
    assert not list(out.glob("**/.*.tmp"))


def test_second_run_into_a_locked_folder_is_refused_naming_the_holder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    with RunFolderLock(out):  # what a running training holds
        err = expect_one_line_error(tiny_args(out, val, iters=3), capsys)
    assert f"PID {os.getpid()}" in err and str(out) in err
    assert not (out / "log.jsonl").exists()  # the refused run wrote nothing

    main(tiny_args(out, val, iters=3))  # the lock is free again once its holder ends
    capsys.readouterr()
    with RunFolderLock(out):
        err = expect_one_line_error(tiny_args(out, val, "--resume", iters=6), capsys)
    assert f"PID {os.getpid()}" in err
    assert _latest_iteration(out) == 3


@pytest.mark.slow
def test_running_training_holds_the_lock(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    process = _start_training(out, val, "--step-sleep", "0.02")
    try:
        _wait_for_an_iteration(process, out)
        from srkit.errors import SrkitError

        with pytest.raises(SrkitError, match=f"PID {process.pid}"), RunFolderLock(out):
            pass
    finally:
        process.terminate()
        process.communicate(timeout=120)


def _lr_diverges_from(monkeypatch: pytest.MonkeyPatch, iteration: int, lr: float) -> None:
    """From ``iteration`` on, the tiny recipe steps with ``lr`` (beyond any config check)."""
    original = fake_recipe.TinyRecipe.train_step

    def train_step(self, batch, ctx):  # noqa: ANN001, ANN202
        if ctx.iteration >= iteration:
            for group in self.optimizers["generator"].param_groups:
                group["lr"] = lr
        return original(self, batch, ctx)

    monkeypatch.setattr(fake_recipe.TinyRecipe, "train_step", train_step)


@pytest.mark.parametrize("ema", ["0", "0.5"])
def test_diverged_weights_are_never_saved_as_good(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        ema: str) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    _lr_diverges_from(monkeypatch, 3, 1e6)  # the checkpoint at 3 is good, later ones are not
    code, _, err = run_cli(capsys, *tiny_args(out, val, "--ema", ema, iters=9))
    assert code == 2 and err.splitlines()[-1].startswith("error: "), err
    err = err.splitlines()[-1]
    assert "weights diverged at iteration" in err and "last good checkpoint" in err

    state = checkpoint.read_checkpoint(out / "checkpoints")
    assert state.iteration == 3
    for tensors in (state.tensors, load_file(out / "model.safetensors")):
        for key, value in tensors.items():
            if value.is_floating_point() and value.numel():
                assert bool(torch.isfinite(value).all()) and float(value.abs().max()) < MAX_ABS_WEIGHT, key


def test_weight_problem_names_non_finite_and_exploded_tensors() -> None:
    net = torch.nn.Linear(2, 2)
    assert weight_problem({"generator": net}) is None
    with torch.no_grad():
        net.weight[0, 0] = 2 * MAX_ABS_WEIGHT
    assert "generator.weight" in (weight_problem({"generator": net}) or "")
    with torch.no_grad():
        net.weight.zero_()
        net.bias[1] = float("nan")
    assert "NaN" in (weight_problem({"ema.generator": net}) or "")


@pytest.mark.slow
def test_resume_right_after_kill_9_with_workers_is_not_blocked(tmp_path: Path) -> None:
    """What the OOM killer does, then a retry loop: the dead run's lock must not block."""
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    process = _start_training(out, val, "--step-sleep", "0.02", "--workers", "2",
                              "--save-every", "1")
    _wait_for_an_iteration(process, out)
    while not (out / "checkpoints" / "latest.json").is_file():
        time.sleep(0.05)
    process.kill()  # SIGKILL to the main process only: its workers are orphaned
    process.wait(timeout=60)  # not communicate(): orphaned workers may still hold the pipes
    try:
        with RunFolderLock(out):  # taken at once: no worker of the dead run holds it
            pass
        main(tiny_args(out, val, "--resume", "--workers", "2", iters=_latest_iteration(out) + 1))
    finally:
        _kill_group(process)


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate(timeout=60)
