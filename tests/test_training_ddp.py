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
    env = {**os.environ, **env, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "srkit", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=cwd)


def test_two_process_gloo_run_keeps_ranks_identical_and_saves_once(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out, dumps = tmp_path / "run", tmp_path / "dumps"
    dumps.mkdir()
    result = torchrun_srkit(tiny_args(out, val, "--lr", "1e-2", iters=4), tmp_path,
                            SRKIT_PLUGIN_MODULES="tests.fake_recipe", TINY_DUMP_DIR=str(dumps))
    assert result.returncode == 0, result.stderr[-3000:]

    rank0, rank1 = (load_file(dumps / f"rank{r}.safetensors") for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    exported = load_file(out / "model.safetensors")
    assert all(torch.equal(rank0[k], exported[k]) for k in rank0)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["iteration"] for e in log if "val.psnr" in e] == [0, 3, 4]  # one process logs
    assert result.stdout.count("done:") == 1


@pytest.mark.parametrize("world_size", [1, 2, 5])
def test_ranks_together_draw_each_sample_once_per_epoch(world_size: int) -> None:
    from srkit.training.sampling import StreamBatchSampler

    batch = 10 // world_size
    samplers = [StreamBatchSampler(10, batch, seed=3, rank=r, world_size=world_size)
                for r in range(world_size)]
    for step in range(3):  # one epoch per step: all ranks together see every index once
        seen = [index for s in samplers for index, _ in s.batch(step)]
        assert sorted(seen) == list(range(10))


def test_sampler_resumed_at_a_step_yields_the_same_batches() -> None:
    from srkit.training.sampling import StreamBatchSampler

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
