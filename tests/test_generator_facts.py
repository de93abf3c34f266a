"""What a generator declares in ``facts`` changes how upscale, tiles, bench and validation run it."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torch import nn

from srkit.errors import SrkitError
from srkit.evaluation.datasets import Dataset
from srkit.evaluation.options import BenchOptions
from srkit.evaluation.scoring import bench_one
from srkit.inference import run_model, upscale_streamed
from srkit.interfaces import GeneratorFacts, SizeRequirements, generator_facts
from srkit.nn.baseline import BicubicUpsampler
from srkit.testing import srkit_main


class StridedSR(nn.Module):
    """x2 through two stride-2 steps and a x8 pixel shuffle: refuses sides that are not multiples of 4."""

    facts = GeneratorFacts(SizeRequirements(multiple_of=4, minimum=8))
    scale = 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.down = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1),
                                  nn.Conv2d(8, 3 * 64, 3, stride=2, padding=1))
        self.up = nn.PixelShuffle(8)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        if lr.shape[-2] % 4 or lr.shape[-1] % 4 or min(lr.shape[-2:]) < 8:
            raise ValueError(f"input {tuple(lr.shape[-2:])} is not a multiple of 4 of at least 8")
        return self.up(self.down(lr))


class NoBf16SR(StridedSR):
    facts = GeneratorFacts(bf16_safe=False)


def test_padding_reaches_the_next_accepted_side() -> None:
    needs = SizeRequirements(minimum=8, multiple_of=4)
    assert [needs.padding(side) for side in (1, 7, 8, 9, 12)] == [7, 1, 0, 3, 0]
    assert SizeRequirements().padding(7) == 0


def test_an_odd_input_is_padded_for_the_model_and_cropped_back() -> None:
    model = StridedSR().eval()
    lr = torch.rand(1, 3, 9, 11, generator=torch.Generator().manual_seed(1))
    sr = run_model(model, lr)
    assert sr.shape == (1, 3, 18, 22)
    padded = torch.nn.functional.pad(lr, (0, 1, 0, 3), mode="reflect")
    with torch.no_grad():
        torch.testing.assert_close(sr, model(padded)[..., :18, :22])


def test_every_tile_is_padded_even_the_small_edge_ones() -> None:
    lr = torch.rand(1, 3, 13, 10, generator=torch.Generator().manual_seed(2))
    assert run_model(StridedSR().eval(), lr, tile=5, overlap=2).shape == (1, 3, 26, 20)
    assert upscale_streamed(StridedSR().eval(), lr, tile=5, overlap=2).size == (20, 26)


def test_a_precision_the_model_declares_unsafe_is_refused_before_any_work() -> None:
    lr = torch.rand(1, 3, 8, 8)
    with pytest.raises(SrkitError, match="declares it unsafe"):
        run_model(NoBf16SR().eval(), lr, precision="bf16")
    assert run_model(StridedSR().eval(), lr, precision="bf16").shape == (1, 3, 16, 16)


def test_upscale_refuses_a_precision_the_model_declares_unsafe(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(BicubicUpsampler, "facts", GeneratorFacts(bf16_safe=False))
    Image.new("RGB", (6, 5)).save(tmp_path / "in.png")
    with pytest.raises(SystemExit):
        srkit_main(["upscale", str(tmp_path / "in.png"), "--model", "bicubic", "--scale", "2",
                    "--precision", "bf16", "--out", str(tmp_path / "out")])
    assert "bicubic declares it unsafe" in capsys.readouterr().err
    assert not (tmp_path / "out" / "in.png").exists()


def test_bench_runs_a_model_in_fp32_when_it_declares_the_precision_unsafe(tmp_path) -> None:
    Image.new("RGB", (16, 16), (120, 30, 200)).save(tmp_path / "a.png")
    dataset = Dataset("tiny", tmp_path, [tmp_path / "a.png"])
    options = BenchOptions(models=["x"], datasets=[str(tmp_path)], scales=[2], precision="bf16",
                           progress=False, warmup=0)
    with pytest.warns(UserWarning, match="benchmarking it in fp32"):
        row, _ = bench_one("nobf16", NoBf16SR().eval(), dataset, 2, options)
    assert row.precision == "fp32"
    row, _ = bench_one("strided", StridedSR().eval(), dataset, 2, options)
    assert row.precision == "bf16"


def test_facts_are_found_through_wrappers_and_default_when_absent() -> None:
    class Wrapper(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.module = inner

    assert generator_facts(Wrapper(StridedSR())).size.multiple_of == 4
    assert generator_facts(nn.Identity()) == GeneratorFacts()
