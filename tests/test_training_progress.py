"""What a run tells its user: the start summary, plain progress lines, phase switches,
a finished run resumed, labelled samples, kept checkpoints, and validation in the weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srkit.cli import main
from srkit.config import TrainConfig
from srkit.training.report import RunProgress, format_duration, phase_plan
from srkit.training.validation import BAND, labelled_strip
from srkit.weights.files import weights_info
from tests.cli_helpers import run_cli
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)


class TwoPhases:
    def phase(self, iteration: int) -> str:
        return "pretrain" if iteration < 4 else "gan"


def _entry(iteration: int, rate: float = 2.0) -> dict:
    return {"iteration": iteration, "phase": "gan", "loss.total": 0.5, "it_per_s": rate}


def test_phase_plan_lists_each_phase_with_its_first_iteration() -> None:
    assert phase_plan(TwoPhases(), 10) == [(1, "pretrain"), (5, "gan")]


def test_phase_switch_is_announced_once_at_its_iteration() -> None:
    plan = phase_plan(TwoPhases(), 10)
    progress = RunProgress(TrainConfig(iters=10), torch.device("cpu"), 0, plan, plain_lines=False)
    assert progress.on_record(_entry(2)) == []
    lines = progress.on_record(_entry(6))
    assert "iteration 5: phase pretrain -> gan" in lines
    assert not any("phase" in line for line in progress.on_record(_entry(8)))


def test_resumed_run_does_not_announce_a_switch_it_passed() -> None:
    plan = phase_plan(TwoPhases(), 10)
    progress = RunProgress(TrainConfig(iters=10), torch.device("cpu"), 6, plan, plain_lines=False)
    assert not any("phase" in line for line in progress.on_record(_entry(8)))


def test_plain_lines_carry_iteration_rate_eta_and_losses() -> None:
    progress = RunProgress(TrainConfig(iters=100), torch.device("cpu"), 0, [(1, "train")],
                           plain_lines=True)
    line = progress.on_record(_entry(10, rate=2.0))[-1]
    assert line.startswith("iteration 10/100 (10%)") and "2 it/s" in line
    assert "ETA 45 s" in line and "total 0.5" in line


@dataclasses.dataclass
class LongRecipeConfig(TrainConfig):
    defaults = {"iters": 200000}


def test_long_cpu_schedule_points_to_the_quick_preset() -> None:
    progress = RunProgress(LongRecipeConfig(), torch.device("cpu"), 0, [(1, "train")],
                           plain_lines=False)
    progress.on_record(_entry(10, rate=3.0))
    lines = progress.on_record(_entry(20, rate=3.0))
    assert any(line.startswith("estimate: 3 it/s, about 18 h 31 min") for line in lines)
    assert any("--preset quick" in line for line in lines)


def test_a_shortened_schedule_gets_no_quick_preset_pointer() -> None:
    # --iters or --preset set the length: the user already chose it, however long it takes
    progress = RunProgress(LongRecipeConfig(iters=20000), torch.device("cpu"), 0, [(1, "train")],
                           plain_lines=False)
    progress.on_record(_entry(10, rate=3.0))
    lines = progress.on_record(_entry(20, rate=3.0))
    assert any(line.startswith("estimate: 3 it/s") for line in lines)
    assert not any("--preset quick" in line for line in lines)


def test_durations_read_as_a_human_writes_them() -> None:
    assert [format_duration(s) for s in (42, 1500, 11100)] == ["42 s", "25 min", "3 h 05 min"]


def test_run_prints_a_summary_and_plain_progress_when_piped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    code, _, err = run_cli(capsys, *tiny_args(tmp_path / "run", val, iters=6))
    assert code == 0
    lines = err.splitlines()
    parameters = (3 * 8 * 9 + 8) + (8 * 12 * 9 + 12)  # the two convolutions of TinyGenerator
    assert lines[0] == f"training tiny: tiny, {parameters:,} parameters, x2"
    assert "device: cpu, fp32" in err and "schedule: 6 iterations of batch 2" in err
    assert "phases: train 1-6" in err and f"run folder: {tmp_path / 'run'}" in err
    assert [line.split()[1] for line in lines if line.startswith("iteration ") and "/" in
            line.split()[1]] == ["2/6", "4/6", "6/6"]


def test_resuming_a_finished_run_says_so_and_succeeds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, iters=3))
    before = (out / "log.jsonl").read_text()
    capsys.readouterr()
    code, _, err = run_cli(capsys, *tiny_args(out, val, "--resume", iters=3))
    assert code == 0 and "finished at iteration 3" in err and "--iters" in err
    assert (out / "log.jsonl").read_text() == before


def test_a_fresh_run_into_a_folder_without_checkpoint_starts_a_fresh_log(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    # a run stopped before its first checkpoint leaves a log but nothing to resume
    main(tiny_args(out, val, "--save-every", "100", iters=2))
    import shutil

    shutil.rmtree(out / "checkpoints")
    main(tiny_args(out, val, "--save-every", "100", iters=2))
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records if "val.psnr" in r] == [0, 2]


def test_keep_leaves_only_the_newest_checkpoints(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, "--save-every", "1", "--keep", "1", iters=4))
    assert [p.name for p in (out / "checkpoints").glob("ckpt-*")] == ["ckpt-0000004.safetensors"]
    main(tiny_args(out, val, "--save-every", "1", "--resume", "--keep", "2", iters=7))
    assert sorted(p.name for p in (out / "checkpoints").glob("ckpt-*")) == [
        "ckpt-0000006.safetensors", "ckpt-0000007.safetensors"]


def test_exported_weights_carry_their_validation_result(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, iters=3))
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    final = [r for r in logged if r.get("iteration") == 3 and "val.psnr" in r][0]
    validation = weights_info(out / "model.safetensors")["validation"]
    assert validation["iteration"] == 3 and validation["psnr"] == final["val.psnr"]
    assert validation["set"] == str(val)
    bicubic = _bicubic_scores(val, scale=2)
    assert validation["bicubic_psnr"] == pytest.approx(bicubic[0], abs=1e-9)
    assert validation["bicubic_ssim"] == pytest.approx(bicubic[1], abs=1e-9)


def _bicubic_scores(folder: Path, scale: int) -> tuple[float, float]:
    """Mean protocol PSNR/SSIM of MATLAB bicubic on every image of ``folder``."""
    from srkit.degradations.imresize import imresize
    from srkit.evaluation.protocol import evaluate, make_lr, modcrop
    from srkit.imageio import list_images, load_image

    psnrs, ssims = [], []
    for path in list_images(folder):
        hr = modcrop(load_image(path), scale).unsqueeze(0)
        scores = evaluate(imresize(make_lr(hr, scale), float(scale)).clamp(0, 1), hr, scale)
        psnrs.append(float(scores["psnr"][0]))
        ssims.append(float(scores["ssim"][0]))
    return sum(psnrs) / len(psnrs), sum(ssims) / len(ssims)


def test_sample_strips_are_labelled_above_the_three_crops(tmp_path: Path) -> None:
    val = make_image_folder(tmp_path / "val")
    main(tiny_args(tmp_path / "run", val, iters=3))
    sample = np.asarray(Image.open(tmp_path / "run" / "samples" / "iter_000003_img0.png"))
    assert sample.shape[0] == 40 // 2 * 2 + BAND and sample.shape[1] == 3 * 40
    band = sample[:BAND]
    assert (band < 128).any() and (band == 255).mean() > 0.5  # dark text on white


def test_labelled_strip_draws_each_label_over_its_crop() -> None:
    crops = [torch.full((3, 64, 64), 0.5) for _ in range(3)]
    strip = labelled_strip(crops, ["bicubic", "SR", "HR"])
    assert strip.shape == (3, 64 + BAND, 192)
    band = strip[:, :BAND]
    for third in range(3):
        assert (band[..., third * 64:(third + 1) * 64] < 0.5).any()
    assert torch.equal(strip[:, BAND:], torch.cat(crops, dim=-1).mul(255).round().div(255))
