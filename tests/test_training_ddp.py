"""Multi-process training: torchrun with 2 CPU processes (gloo) trains one model, saved once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.fake_recipe import make_image_folder, tiny_args

REPO_ROOT = Path(__file__).resolve().parents[1]


def torchrun_srkit(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc-per-node 2 -m srkit ARGS`` on the CPU (gloo), with ``env`` added."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env,
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "srkit", *args]
    # the timeout only guards against a hang; a dead peer must stop the run long before it
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=cwd)


def run_two_processes(tmp_path: Path, args: list[str], dumps: Path,
                      **env: str) -> subprocess.CompletedProcess[str]:
    """The tiny recipe under :func:`torchrun_srkit`; each process dumps its final weights."""
    dumps.mkdir(exist_ok=True)
    return torchrun_srkit(args, tmp_path, SRKIT_PLUGIN_MODULES="tests.fake_recipe",
                          TINY_DUMP_DIR=str(dumps), **env)


def test_two_process_gloo_run_keeps_ranks_identical_and_saves_once(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out, dumps = tmp_path / "run", tmp_path / "dumps"
    result = run_two_processes(tmp_path, tiny_args(out, val, "--learning-rate", "1e-2", iters=4), dumps)
    assert result.returncode == 0, result.stderr[-3000:]

    rank0, rank1 = (load_file(dumps / f"rank{r}.safetensors") for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    exported = load_file(out / "model.safetensors")
    assert all(torch.equal(rank0[k], exported[k]) for k in rank0)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["iteration"] for e in log if "val.psnr" in e] == [0, 3, 4]  # one process logs
    assert result.stdout.count("done:") == 1


def test_dead_rank_stops_the_others_and_resume_restores_every_ranks_rng(tmp_path: Path) -> None:
    """Rank 1 dies after the checkpoint at 3; rank 0 stops with one line; the resumed run ends
    bit-identical to an uninterrupted one although the ranks' RNG streams differ."""
    val = make_image_folder(tmp_path / "val")
    options = ("--learning-rate", "1e-2", "--noise", "--val-every", "0")
    diverging = {"TINY_RANK_DRAWS": "1"}  # rank r draws r extra numbers per step
    straight = run_two_processes(tmp_path, tiny_args(tmp_path / "straight", val, *options),
                                 tmp_path / "straight_dumps", **diverging)
    assert straight.returncode == 0, straight.stderr[-3000:]

    out = tmp_path / "resumed"
    died = run_two_processes(tmp_path, tiny_args(out, val, *options), tmp_path / "unused",
                             TINY_FAIL="1:4", **diverging)
    assert died.returncode != 0
    assert "injected failure of rank 1 at iteration 4" in died.stderr
    survivor = [line for line in died.stderr.splitlines() if "process 0 of 2 stopped" in line]
    assert survivor and survivor[0].startswith("error: ")
    assert any(f"Connection {how} by peer" in survivor[0] for how in ("closed", "reset"))
    assert not [line for line in died.stderr.splitlines() if line.startswith("[rank0]:")]
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["iteration"] == 3

    resumed = run_two_processes(tmp_path, [*tiny_args(out, val, *options), "--resume"],
                                tmp_path / "resumed_dumps", **diverging)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for rank in (0, 1):
        a = load_file(tmp_path / "straight_dumps" / f"rank{rank}.safetensors")
        b = load_file(tmp_path / "resumed_dumps" / f"rank{rank}.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), rank


@pytest.mark.parametrize("world_size", [1, 2, 5])
def test_ranks_together_draw_each_sample_once_per_epoch(world_size: int) -> None:
    from srkit.training.batches import StreamBatchSampler

    batch = 10 // world_size
    samplers = [StreamBatchSampler(10, batch, seed=3, rank=r, world_size=world_size)
                for r in range(world_size)]
    for step in range(3):  # one epoch per step: all ranks together see every index once
        seen = [index for s in samplers for index, _ in s.batch(step)]
        assert sorted(seen) == list(range(10))


def test_sampler_resumed_at_a_step_yields_the_same_batches() -> None:
    from srkit.training.batches import StreamBatchSampler

    straight = iter(StreamBatchSampler(7, 3, seed=1))
    batches = [next(straight) for _ in range(6)]
    resumed = iter(StreamBatchSampler(7, 3, seed=1, start_step=4))
    assert [next(resumed), next(resumed)] == batches[4:]


RECIPE_RUNS = {
    # SRGAN: 2 pretraining iterations, then 2 of the GAN phase (G and D updated by every rank)
    "srgan-dump": ["--content-loss", "mse", "--iters", "4", "--pretrain-iters", "2",
                   "--channels", "8", "--blocks", "1", "--d-channels", "8"],
    # DRN: primal and dual models in one optimizer
    "drn-dump": ["--iters", "3", "--n-feats", "4", "--n-blocks", "1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", sorted(RECIPE_RUNS))
def test_two_process_run_of_a_built_in_recipe_keeps_every_net_identical(tmp_path: Path,
                                                                        recipe: str) -> None:
    data = make_image_folder(tmp_path / "data", size=(48, 48))
    out, dumps = tmp_path / "run", tmp_path / "dumps"
    dumps.mkdir()
    args = ["train", recipe, *RECIPE_RUNS[recipe], "--scale", "4", "--patch-size", "32",
            "--batch-size", "2", "--workers", "0", "--device", "cpu", "--data", str(data),
            "--val", str(data), "--val-every", "0", "--log-every", "1", "--out", str(out)]
    result = torchrun_srkit(args, tmp_path, SRKIT_PLUGIN_MODULES="tests.ddp_recipes",
                            DDP_DUMP_DIR=str(dumps))
    assert result.returncode == 0, result.stderr[-3000:]

    rank0, rank1 = (load_file(dumps / f"rank{r}.safetensors") for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    assert any(k.startswith("generator.") for k in rank0)
    # Parameters must agree exactly. BatchNorm running statistics may not: DDP copies rank 0's
    # buffers to every rank at the start of each forward, then each rank updates them on its own
    # batch; rank 0's are the ones saved.
    learned = [k for k in rank0 if not k.endswith(("running_mean", "running_var",
                                                   "num_batches_tracked"))]
    assert len(learned) > len(rank0) // 2
    assert all(torch.equal(rank0[k], rank1[k]) for k in learned), [
        k for k in learned if not torch.equal(rank0[k], rank1[k])][:3]
    exported = load_file(out / "model.safetensors")
    assert all(torch.equal(rank0[f"generator.{k}"], v) for k, v in exported.items()
               if f"generator.{k}" in rank0)
    assert result.stdout.count("done:") == 1


class _Ended(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


@pytest.mark.parametrize(("argv", "status"), [(["--version"], 0), (["info", "missing.pt"], 2)])
def test_a_torchrun_worker_ends_without_interpreter_shutdown(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str],
                                                             argv: list[str], status: int) -> None:
    """Under torchrun every exit, good or bad, goes through ``end_process`` with its status (a
    gloo thread outliving Python's shutdown aborts the process after a good run)."""
    from srkit.cli import main
    from srkit.training import distributed

    def end_process(code: int) -> None:
        raise _Ended(code)

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(distributed, "end_process", end_process)
    with pytest.raises(_Ended) as ended:
        main(argv)
    assert ended.value.status == status
    if status:
        assert capsys.readouterr().err.startswith("error: ")
