"""``srkit train realesrnet/realesrgan/srgan`` through the real CLI and trainer, on tiny networks:
bit-exact resume, ``--generator``, and a spandrel model fine-tuned with GAN losses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srkit.api import load_image, load_model
from srkit.testing import srkit_main as main

TINY_NET = ["--channels", "8", "--blocks", "1", "--growth", "4"]
TINY_RUN = ["--d-channels", "8", "--patch-size", "32", "--batch-size", "2", "--workers", "0",
            "--log-every", "1", "--val-every", "0", "--device", "cpu"]


def gan_steps(log: Path) -> list[dict]:
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return [r for r in records if r.get("phase") == "gan" or "loss.gan" in r or "loss.adv" in r]


def test_realesrgan_resumes_bit_exactly(tmp_path: Path, photos: Path, capsys) -> None:  # noqa: ANN001
    common = ["train", "realesrgan", *TINY_NET, *TINY_RUN, "--content-loss", "l1", "--save-every", "2",
              "--data", str(photos), "--val", str(photos)]
    main([*common, "--iters", "4", "--out", str(tmp_path / "straight")])
    main([*common, "--iters", "2", "--out", str(tmp_path / "resumed")])
    assert "no --init: the GAN starts from random weights" in capsys.readouterr().err
    main([*common, "--iters", "4", "--out", str(tmp_path / "resumed"), "--resume"])
    assert "no --init" not in capsys.readouterr().err  # it goes on from its checkpoint

    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    steps = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    last = [r for r in steps if "loss.gan" in r][-1]
    assert {"loss.l1", "loss.gan", "loss.g_total", "loss.d_real_loss", "loss.d_fake_loss"} <= set(last)


def test_srgan_trains_rrdbnet_with_gan_losses(tmp_path: Path, photos: Path) -> None:
    out = tmp_path / "run"
    main(["train", "srgan", "--generator", "rrdbnet:channels=8,blocks=1,growth=4", "--content-loss", "mse",
          "--iters", "2", "--pretrain-iters", "0", "--scale", "4", *TINY_RUN, "--data", str(photos),
          "--val", str(photos), "--out", str(out)])
    model = load_model(out / "model.safetensors")
    assert model.srkit_arch == "rrdbnet" and model.scale == 4
    assert model.srkit_kwargs == {"scale": 4, "channels": 8, "blocks": 1, "growth": 4}
    assert len(gan_steps(out / "log.jsonl")) == 2


@pytest.mark.parametrize("recipe", ["srgan", "realesrgan"])
def test_a_spandrel_model_is_fine_tuned_with_gan_losses_and_resumed(tmp_path: Path, photos: Path,
                                                                    recipe: str) -> None:
    pytest.importorskip("spandrel")
    from spandrel.architectures.SPAN import SPAN

    torch.manual_seed(0)
    span = SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4)
    start = tmp_path / "4x_span.pth"
    torch.save(span.state_dict(), start)
    out = tmp_path / "run"
    loss = ["--content-loss", "mse" if recipe == "srgan" else "l1"]
    data = ["--data", str(photos), "--val", str(photos), "--out", str(out)]
    main(["train", recipe, "--init", str(start), *loss, "--iters", "1", "--save-every", "1", *TINY_RUN,
          *data])
    main(["train", recipe, "--resume", "--iters", "2", *data])  # rebuilt from the checkpoint's config

    tuned = load_model(out / "model.safetensors")
    assert tuned.srkit_arch == "spandrel" and tuned.scale == 4
    assert len(gan_steps(out / "log.jsonl")) == 2  # no pretraining phase: GAN from the first step
    original = {f"net.{k}": v for k, v in span.state_dict().items()}
    assert any(not torch.equal(original[k], v) for k, v in tuned.state_dict().items()
               if v.is_floating_point())


def test_generator_other_than_the_init_file_is_a_one_line_error(tmp_path: Path, photos: Path, capsys) -> None:  # noqa: ANN001
    main(["train", "realesrnet", *TINY_NET, *TINY_RUN[2:], "--iters", "1", "--data", str(photos),
          "--val", str(photos), "--out", str(tmp_path / "net")])
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["train", "realesrgan", "--init", str(tmp_path / "net" / "model.safetensors"),
              "--generator", "srresnet", "--content-loss", "l1", *TINY_RUN, "--out", str(tmp_path / "gan")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a 'rrdbnet' generator, not --generator srresnet" in err


def test_bench_scores_lpips_of_both_stages_and_the_report_shows_their_crops_beside_bicubic(
        tmp_path: Path, photos: Path, capsys) -> None:  # noqa: ANN001
    """A realesrnet run and a realesrgan run from it, benchmarked as a user compares them: every
    row has LPIPS, and each image's strip holds HR, bicubic, ESRNet and ESRGAN crops of one region."""
    import torchvision

    runs = tmp_path / "runs"
    data = ["--data", str(photos), "--val", str(photos)]
    main(["train", "realesrnet", *TINY_NET, *TINY_RUN[2:], "--iters", "2", *data,
          "--out", str(runs / "realesrnet_x4")])
    main(["train", "realesrgan", "--init", str(runs / "realesrnet_x4" / "model.safetensors"),
          "--content-loss", "l1", *TINY_RUN, "--iters", "2", *data, "--out", str(runs / "realesrgan_x4")])
    with torch.device("meta"):  # random stand-in for the ImageNet file LPIPS's AlexNet needs
        shapes = {k: v.shape for k, v in torchvision.models.alexnet().features.state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    torch.save({f"features.{k}": torch.randn(shape, generator=generator) * 0.05
                for k, shape in shapes.items()}, tmp_path / "alexnet.pth")
    capsys.readouterr()

    main(["bench", "--models", "realesrnet,realesrgan", "--runs", str(runs), "--datasets", str(photos),
          "--lpips-weights", str(tmp_path / "alexnet.pth"), "--report", str(tmp_path / "report"),
          "--format", "json", "--device", "cpu"])

    rows = json.loads(capsys.readouterr().out)
    assert {row["model"] for row in rows} == {"bicubic", "realesrnet", "realesrgan"}
    assert all(row["lpips"] > 0 and row["lpips_net"] == "alex" for row in rows)
    page = (tmp_path / "report" / "index.html").read_text()
    strips = page.split('<div class="strip">')[1:]
    assert len(strips) == len(list(photos.iterdir()))
    for strip in strips:
        labels = [alt.split('"')[0] for alt in strip.split(' alt="')[1:]]
        assert labels == ["HR", "bicubic", "realesrnet", "realesrgan"]
        crops = [tmp_path / "report" / src.split('"')[0] for src in strip.split('<img src="')[1:]]
        sizes = {tuple(load_image(crop).shape) for crop in crops}
        assert len(sizes) == 1  # the same region of every image
        assert strip.count("LPIPS ") == 3  # every model's caption scores it, bicubic's included
