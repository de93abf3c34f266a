"""``srkit bench`` end to end on tiny image folders: formats, weights, errors, report, LPIPS."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from srkit.evaluation.protocol import evaluate, make_lr
from srkit.imageio import load_image
from srkit.nn.models import build_generator
from srkit.weights.files import save_weights
from tests.cli_helpers import run_cli

SET5 = Path(__file__).resolve().parents[1] / "srkit" / "data" / "bundled" / "Set5"



@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """Two 48x40 crops of Set5 images: real texture, fast to score."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name in ("baby.png", "butterfly.png"):
        with Image.open(SET5 / name) as image:
            image.crop((100, 100, 148, 140)).save(folder / name)
    return folder


def bicubic_weights(path: Path, scale: int) -> Path:
    """A valid srkit weights file of the parameter-free bicubic generator."""
    save_weights(build_generator("bicubic", scale=scale), path)
    return path


def bench_json(capsys, *argv: str) -> list[dict]:
    code, out, err = run_cli(capsys, "bench", "--no-lpips", "--device", "cpu", "--format", "json",
                             *argv)
    assert code == 0, err
    return json.loads(out)


def test_bicubic_rows_are_the_protocol_scores(capsys, tiny_dataset: Path) -> None:
    rows = bench_json(capsys, "--models", "bicubic", "--datasets", str(tiny_dataset),
                      "--scales", "2,4")
    assert [(r["model"], r["dataset"], r["scale"]) for r in rows] == [
        ("bicubic", "tiny", 2), ("bicubic", "tiny", 4)]
    for row in rows:
        expected_psnr, expected_ssim = [], []
        for path in sorted(tiny_dataset.iterdir()):
            hr = load_image(path).unsqueeze(0)
            scores = evaluate(build_generator("bicubic", scale=row["scale"])(
                make_lr(hr, row["scale"])).clamp(0, 1), hr, row["scale"])
            expected_psnr.append(float(scores["psnr"][0]))
            expected_ssim.append(float(scores["ssim"][0]))
        assert row["psnr"] == pytest.approx(sum(expected_psnr) / 2, abs=1e-3)
        assert row["ssim"] == pytest.approx(sum(expected_ssim) / 2, abs=1e-4)
        assert row["images"] == 2 and row["params"] == 0 and row["lpips"] is None
        assert row["latency_ms"] > 0 and row["mpix_per_s"] > 0
        assert row["precision"] == "fp32" and row["device"].startswith("cpu")
        assert row["peak_mem_kind"] == "process_peak_rss" and row["peak_mem_mb"] > 0
        assert row["y_channel"] == "matlab"


def test_y_channel_option_picks_the_luma_and_is_recorded_in_each_row(capsys,
                                                                      tiny_dataset: Path) -> None:
    args = ("--models", "bicubic", "--datasets", str(tiny_dataset), "--scales", "2")
    (matlab,) = bench_json(capsys, *args, "--y-channel", "matlab")
    (basicsr,) = bench_json(capsys, *args, "--y-channel", "basicsr")
    assert (matlab["y_channel"], basicsr["y_channel"]) == ("matlab", "basicsr")
    expected = []
    for path in sorted(tiny_dataset.iterdir()):
        hr = load_image(path).unsqueeze(0)
        sr = build_generator("bicubic", scale=2)(make_lr(hr, 2)).clamp(0, 1)
        expected.append(float(evaluate(sr, hr, 2, y_channel="basicsr")["psnr"][0]))
    assert basicsr["psnr"] == pytest.approx(sum(expected) / 2, abs=1e-9)
    assert basicsr["psnr"] != pytest.approx(matlab["psnr"], abs=1e-3)


def test_table_is_the_default_and_csv_md_carry_the_same_rows(capsys, tiny_dataset: Path) -> None:
    args = ("bench", "--no-lpips", "--device", "cpu", "--models", "bicubic",
            "--datasets", str(tiny_dataset))
    code, table, _ = run_cli(capsys, *args)
    assert code == 0
    header, rule, line, footer, lpips = table.strip().splitlines()
    assert header.split()[:5] == ["Model", "Dataset", "Scale", "PSNR", "SSIM"]
    assert line.split()[:3] == ["bicubic", "tiny", "x4"] and "n/a" in line
    assert "precision: fp32" in footer and lpips == "LPIPS n/a: skipped (--no-lpips)"

    code, text, _ = run_cli(capsys, *args, "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["model"] == "bicubic" and row["scale"] == "4" and row["lpips"] == ""

    code, markdown, _ = run_cli(capsys, *args, "--format", "md")
    lines = markdown.strip().splitlines()
    assert lines[0].startswith("| Model | Dataset | Scale | PSNR | SSIM")
    assert lines[2].startswith("| bicubic | tiny | x4 |")
    assert f"{float(row['psnr']):.2f}" in lines[2]


def test_weights_pairs_name_the_rows(capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    weights = bicubic_weights(tmp_path / "mine.safetensors", scale=2)
    rows = bench_json(capsys, "--models", "bicubic,mine", "--weights", f"mine={weights}",
                      "--datasets", str(tiny_dataset), "--scales", "2")
    assert [r["model"] for r in rows] == ["bicubic", "mine"]
    assert rows[1]["weights"] == str(weights)
    assert rows[1]["psnr"] == pytest.approx(rows[0]["psnr"], abs=1e-6)


def test_one_name_may_have_weights_per_scale(capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    x2 = bicubic_weights(tmp_path / "x2.safetensors", scale=2)
    x4 = bicubic_weights(tmp_path / "x4.safetensors", scale=4)
    rows = bench_json(capsys, "--models", "mine", "--weights", f"mine={x2},mine={x4}",
                      "--datasets", str(tiny_dataset), "--scales", "4,2", "--no-baseline")
    assert [(r["scale"], r["weights"]) for r in rows] == [(4, str(x4)), (2, str(x2))]


def test_every_scale_gets_the_bicubic_row_unless_no_baseline(capsys, tmp_path: Path,
                                                             tiny_dataset: Path) -> None:
    x2 = bicubic_weights(tmp_path / "x2.safetensors", scale=2)
    x4 = bicubic_weights(tmp_path / "x4.safetensors", scale=4)
    args = ("--models", "mine", "--weights", f"mine={x2},mine={x4}", "--datasets",
            str(tiny_dataset), "--scales", "4,2")
    rows = bench_json(capsys, *args)
    assert [(r["model"], r["scale"]) for r in rows] == [
        ("bicubic", 4), ("mine", 4), ("bicubic", 2), ("mine", 2)]
    rows = bench_json(capsys, *args, "--no-baseline")
    assert [(r["model"], r["scale"]) for r in rows] == [("mine", 4), ("mine", 2)]


def test_no_baseline_with_nothing_else_to_score_is_an_error(capsys, tmp_path: Path,
                                                            tiny_dataset: Path) -> None:
    message = expect_error(capsys, "--no-baseline", "--runs", str(tmp_path / "no-runs"),
                           "--datasets", str(tiny_dataset))
    assert "--no-baseline: no other model has weights here" in message


def weights_validated_at(path: Path, psnr: float, bicubic_psnr: float) -> Path:
    """x2 bicubic weights whose metadata carries a validation PSNR and bicubic's on that set."""
    save_weights(build_generator("bicubic", scale=2), path, validation={
        "iteration": 500, "psnr": psnr, "ssim": 0.5, "set": "set5",
        "bicubic_psnr": bicubic_psnr, "bicubic_ssim": 0.8})
    return path


@pytest.mark.parametrize("command", ["bench", "upscale", "info"])
def test_a_model_below_bicubic_on_its_validation_is_named_in_one_line(
        capsys, tmp_path: Path, tiny_dataset: Path, command: str) -> None:
    worse = weights_validated_at(tmp_path / "worse.safetensors", psnr=24.5, bicubic_psnr=28.4)
    better = weights_validated_at(tmp_path / "better.safetensors", psnr=29.0, bicubic_psnr=28.4)
    for weights, below in ((worse, True), (better, False)):
        argv = {"bench": ["bench", "--no-lpips", "--device", "cpu", "--models", "mine",
                          "--weights", f"mine={weights}", "--datasets", str(tiny_dataset),
                          "--scales", "2"],
                "upscale": ["upscale", str(tiny_dataset), "--weights", str(weights), "--out",
                            str(tmp_path / f"out-{weights.stem}"), "--device", "cpu"],
                "info": ["info", str(weights)]}[command]
        code, _, err = run_cli(capsys, *argv)
        assert code == 0, err
        named = [line for line in err.splitlines() if "below bicubic" in line]
        if below:
            assert named == [f"warning: {weights} scores below bicubic on its validation set "
                             "set5 (24.50 dB against 28.40 dB at iteration 500): train it "
                             "longer or check its data"]
        else:
            assert named == []


def test_newest_run_folder_supplies_the_weights(capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    runs = tmp_path / "runs"
    old = bicubic_weights(runs / "bicubic-old" / "model.safetensors", scale=4)
    new = bicubic_weights(runs / "bicubic-new" / "model.safetensors", scale=4)
    os.utime(old, (1_000_000, 1_000_000))
    rows = bench_json(capsys, "--models", "bicubic", "--runs", str(runs),
                      "--datasets", str(tiny_dataset))
    assert rows[0]["weights"] == str(new)


def test_default_models_are_bicubic_with_a_hint(capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    code, out, err = run_cli(capsys, "bench", "--no-lpips", "--device", "cpu", "--format", "json",
                             "--runs", str(tmp_path / "no-runs"), "--datasets", str(tiny_dataset))
    assert code == 0
    assert [r["model"] for r in json.loads(out)] == ["bicubic"]
    assert "hint:" in err and "--weights NAME=FILE" in err


def test_default_models_include_runs_for_the_requested_scale(capsys, tmp_path: Path,
                                                             tiny_dataset: Path) -> None:
    runs = tmp_path / "runs"
    bicubic_weights(runs / "srresnet_x4" / "model.safetensors", scale=4)
    args = ("--runs", str(runs), "--datasets", str(tiny_dataset))
    assert [r["model"] for r in bench_json(capsys, *args)] == ["bicubic", "srresnet"]
    assert [r["model"] for r in bench_json(capsys, *args, "--scales", "2")] == ["bicubic"]


def test_unreadable_run_weights_are_skipped_naming_the_file_and_why(
        capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    broken = tmp_path / "runs" / "srresnet_x4" / "model.safetensors"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"torn by a full disk")
    with pytest.warns(UserWarning) as warned:
        code, out, _ = run_cli(capsys, "bench", "--no-lpips", "--device", "cpu", "--format", "json",
                               "--runs", str(tmp_path / "runs"), "--datasets", str(tiny_dataset))
    assert code == 0 and [r["model"] for r in json.loads(out)] == ["bicubic"]
    said = [str(w.message) for w in warned]
    assert any(m.startswith(f"{broken}: skipped, its weights are unreadable (not a safetensors file")
               for m in said), said


def expect_error(capsys, *argv: str) -> str:
    code, out, err = run_cli(capsys, "bench", "--no-lpips", "--device", "cpu", *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_weights_for_another_scale_are_an_error(capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    weights = bicubic_weights(tmp_path / "x2.safetensors", scale=2)
    message = expect_error(capsys, "--models", "mine", "--weights", f"mine={weights}",
                           "--datasets", str(tiny_dataset), "--scales", "4")
    assert "weights are for x2, not x4" in message


def test_foreign_weights_no_converter_reads_are_an_error(capsys, tmp_path: Path,
                                                        tiny_dataset: Path) -> None:
    fake = tmp_path / "model.pth"
    torch.save({"w": torch.zeros(1)}, fake)
    message = expect_error(capsys, "--models", "mine", "--weights", f"mine={fake}",
                           "--datasets", str(tiny_dataset))
    assert "model.pth: no installed converter recognises this layout" in message


def test_weights_not_matching_their_architecture_are_an_error(capsys, tmp_path: Path,
                                                               tiny_dataset: Path) -> None:
    from srkit.atomic_files import atomic_save_safetensors

    path = tmp_path / "odd.safetensors"
    atomic_save_safetensors({"stray.weight": torch.zeros(3)}, path, {
        "srkit.format": "1", "arch": "bicubic", "kwargs": '{"scale": 4}', "scale": "4"})
    message = expect_error(capsys, "--models", "odd", "--weights", f"odd={path}",
                           "--datasets", str(tiny_dataset))
    assert "do not match the metadata (bicubic" in message


def test_unknown_model_lists_installed_ones(capsys, tiny_dataset: Path) -> None:
    message = expect_error(capsys, "--models", "nosuchnet", "--datasets", str(tiny_dataset))
    assert "unknown model 'nosuchnet'; installed:" in message and "bicubic" in message


def test_dataset_folder_without_images_is_an_error(capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    message = expect_error(capsys, "--models", "bicubic", "--datasets", str(tmp_path / "empty"))
    assert "no images found" in message


def test_dataset_whose_only_image_is_too_small_is_an_error_naming_it(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    Image.new("RGB", (16, 16)).save(folder / "tiny.png")
    with pytest.warns(UserWarning, match="tiny.png: 16x16 image is too small for x4"):
        message = expect_error(capsys, "--models", "bicubic", "--datasets", str(folder),
                               "--scales", "4")
    assert f"{folder}: no image can be scored at x4" in message
    assert "tiny.png: 16x16 image is too small for x4" in message


def test_one_bad_image_is_skipped_with_a_warning_naming_it(capsys, tiny_dataset: Path) -> None:
    Image.new("RGB", (1, 1)).save(tiny_dataset / "dot.png")  # too small for any scale
    (tiny_dataset / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # unreadable
    whole = (SET5 / "bird.png").read_bytes()
    (tiny_dataset / "half.png").write_bytes(whole[: len(whole) // 2])  # header fine, pixels cut
    with pytest.warns(UserWarning) as warned:
        rows = bench_json(capsys, "--models", "bicubic", "--datasets", str(tiny_dataset),
                          "--scales", "2,4")
    assert [(r["scale"], r["images"]) for r in rows] == [(2, 2), (4, 2)]
    messages = [str(w.message) for w in warned]
    assert len(messages) == 5, messages  # dot.png and half.png once per scale, torn.png once
    for scale, need in ((2, 15), (4, 19)):
        assert (f"{tiny_dataset / 'dot.png'}: 1x1 image is too small for x{scale} (the protocol "
                f"needs at least {need}x{need}); skipped") in messages
    for name, times in (("torn.png", 1), ("half.png", 2)):
        named = [m for m in messages if m.startswith(f"{tiny_dataset / name}: cannot read image")]
        assert len(named) == times and all(m.endswith("; skipped") for m in named), messages


def test_fp16_on_cpu_is_an_error(capsys, tiny_dataset: Path) -> None:
    message = expect_error(capsys, "--precision", "fp16", "--datasets", str(tiny_dataset))
    assert "fp16" in message


def write_report(capsys, tmp_path: Path, dataset: Path) -> Path:
    """``srkit bench --report`` of a bicubic-weights model named ``mine`` at x2; the report folder."""
    weights = bicubic_weights(tmp_path / "mine.safetensors", scale=2)
    report = tmp_path / "report"
    code, _, err = run_cli(capsys, "bench", "--no-lpips", "--device", "cpu", "--models", "mine",
                           "--weights", f"mine={weights}", "--datasets", str(dataset),
                           "--scales", "2", "--report", str(report), "--no-baseline")
    assert code == 0, err
    return report


def test_report_writes_a_page_with_crops_and_the_json(capsys, tmp_path: Path,
                                                      tiny_dataset: Path) -> None:
    report = write_report(capsys, tmp_path, tiny_dataset)
    page = (report / "index.html").read_text()
    sources = [part.split('"')[0] for part in page.split('<img src="')[1:]]
    assert len(sources) == 2 * 3  # two images x (HR, bicubic, mine)
    assert all((report / source).is_file() for source in sources)
    assert any("_HR.png" in s for s in sources) and any("_bicubic.png" in s for s in sources)
    assert json.loads((report / "results.json").read_text())[0]["model"] == "mine"
    assert len(json.loads((report / "images.json").read_text())) == 2


def test_lpips_is_reported_unavailable_without_backbone_weights(capsys, tmp_path: Path,
                                                                tiny_dataset: Path,
                                                                monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code, out, err = run_cli(capsys, "bench", "--device", "cpu", "--format", "json",
                             "--models", "bicubic", "--datasets", str(tiny_dataset))
    assert code == 0
    assert json.loads(out)[0]["lpips"] is None
    warning = [line for line in err.splitlines() if "LPIPS unavailable" in line]
    assert len(warning) == 1
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth") in warning[0]


def test_lpips_with_backbone_weights_gives_numbers(capsys, tmp_path: Path,
                                                   tiny_dataset: Path) -> None:
    import torchvision

    backbone = tmp_path / "alex.pth"  # random stand-in for the ImageNet file
    torch.save({k: v for k, v in torchvision.models.alexnet().state_dict().items()
                if k.startswith("features.")}, backbone)
    rows = json.loads(run_cli(capsys, "bench", "--device", "cpu", "--format", "json",
                              "--models", "bicubic", "--datasets", str(tiny_dataset),
                              "--lpips-weights", str(backbone))[1])
    assert rows[0]["lpips"] > 0 and rows[0]["lpips_net"] == "alex"


@pytest.mark.slow
def test_bundled_bicubic_baselines_match_published_values(capsys) -> None:
    rows = bench_json(capsys, "--models", "bicubic", "--datasets", "set5,set14",
                      "--scales", "2,4,8")
    scores = {(r["dataset"], r["scale"]): (r["psnr"], r["ssim"]) for r in rows}
    assert scores[("set5", 2)][0] == pytest.approx(33.66, abs=0.03)
    assert scores[("set5", 4)][0] == pytest.approx(28.42, abs=0.03)
    assert scores[("set5", 4)][1] == pytest.approx(0.8104, abs=0.0005)
    assert scores[("set5", 8)][0] == pytest.approx(24.40, abs=0.03)
    # published 26.00; bridge.png (a grey file) is scored on its grey level, as the MATLAB scripts do
    assert scores[("set14", 4)][0] == pytest.approx(26.00, abs=0.03)


def test_every_model_without_weights_is_named_with_its_training_command(
        capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    message = expect_error(capsys, "--models", "bicubic,srgan,drn", "--runs", str(tmp_path),
                           "--datasets", str(tiny_dataset))
    assert "no weights found for srgan, drn" in message
    assert "'srkit train srgan --scale 4 --content-loss mse'" in message
    assert "'srkit train drn --scale 4'" in message


def test_suggested_srgan_command_starts_without_the_vgg_file(
        capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_dataset: Path) -> None:
    """The hint's command builds its recipe on a fresh install: no VGG19 file in the hub cache."""
    from srkit.plugins import lookup
    from srkit.testing import effective_config

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    message = expect_error(capsys, "--models", "srgan", "--runs", str(tmp_path),
                           "--datasets", str(tiny_dataset))
    argv = re.search(r"'srkit train (srgan [^']*)'", message).group(1).split()
    config = effective_config(argv[0], *argv[1:], "--out", str(tmp_path / "run"))
    lookup("recipe", "srgan")(config, torch.device("cpu"))  # the VGG loss would raise here without its file


def test_table_names_weights_files_marks_best_values_and_explains_lpips(
        capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    weights = bicubic_weights(tmp_path / "mine.safetensors", scale=2)
    code, out, _ = run_cli(capsys, "bench", "--no-lpips", "--device", "cpu", "--models",
                           "bicubic,mine", "--weights", f"mine={weights}", "--datasets",
                           str(tiny_dataset), "--scales", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[-1] == "Weights"
    mine = next(line for line in lines if line.startswith("mine"))
    bicubic = next(line for line in lines if line.startswith("bicubic"))
    assert mine.endswith(str(weights)) and bicubic.endswith(" -")
    # the same network twice: both hold the best PSNR
    psnr_column = lines[0].split().index("PSNR")
    assert mine.split()[psnr_column].endswith("*") and bicubic.split()[psnr_column].endswith("*")
    assert "* best per dataset and scale" in out
    assert "LPIPS n/a: skipped (--no-lpips)" in out


def test_markdown_bolds_the_best_value(capsys, tmp_path: Path, tiny_dataset: Path) -> None:
    from srkit.evaluation.formats import format_markdown
    from srkit.evaluation.row import BenchRow

    rows = [BenchRow(model="a", dataset="d", scale=2, psnr=30.0, ssim=0.9),
            BenchRow(model="b", dataset="d", scale=2, psnr=31.0, ssim=0.8)]
    table = format_markdown(rows)
    assert "| **31.00** |" in table and "| **0.9000** |" in table and "| 30.00 |" in table


def test_report_scores_the_bicubic_crop_and_marks_the_best(capsys, tmp_path: Path,
                                                          tiny_dataset: Path) -> None:
    report = write_report(capsys, tmp_path, tiny_dataset)
    page = (report / "index.html").read_text()
    images = json.loads((report / "images.json").read_text())
    # the bicubic crop's caption carries the protocol score, equal to the bicubic model's
    first = images[0]
    assert page.count(f"bicubic<br>{first['psnr']:.2f} dB") >= 1
    assert str(tmp_path / "mine.safetensors") in page and "LPIPS n/a: skipped (--no-lpips)" in page
