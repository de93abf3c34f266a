"""One function makes LR everywhere: training batches, ``srkit degrade``, bench and validation agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srkit.cli import main
from srkit.degradations import BicubicDegradation, BlurBicubicDegradation, make_lr, make_lr_levels
from srkit.degradations.bicubic import bicubic_downscale
from srkit.errors import SrkitError
from srkit.evaluation.bench import BenchOptions, run_bench
from srkit.imageio import load_image, save_image
from srkit.interfaces import Batch, Recipe, StepContext
from srkit.training.batches import TrainBatches
from srkit.training.config import TrainConfig
from srkit.training.distributed import ProcessInfo
from srkit.training.validation import Validator


def images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def is_8_bit(x: torch.Tensor) -> bool:
    return torch.equal(x * 255, (x * 255).round())


class LevelsRecipe(Recipe):
    """The part of a recipe that batches read: no extra streams, the LR factors asked for."""

    config_class = TrainConfig

    def __init__(self, config: TrainConfig, factors: tuple[int, ...] = ()) -> None:
        super().__init__(config, torch.device("cpu"))
        self.factors = factors

    def lr_factors(self) -> tuple[int, ...]:
        return self.factors

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        raise NotImplementedError


def first_batch(hr_folder: Path, scale: int, factors: tuple[int, ...] = (), **options) -> Batch:
    config = TrainConfig(data=str(hr_folder), scale=scale, patch_size=48, batch_size=1,
                         workers=0, **options)
    batches = TrainBatches(config, LevelsRecipe(config, factors), torch.device("cpu"),
                           ProcessInfo(), start_step=0)
    return batches.next_batch(0)


@pytest.fixture
def hr_folder(tmp_path: Path) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    (tmp_path / "hr").mkdir()
    Image.fromarray(pixels).save(tmp_path / "hr" / "a.png")
    return tmp_path / "hr"


def test_make_lr_is_the_clamped_degradation_rounded_to_8_bits() -> None:
    hr = images()
    lr = make_lr(hr, 4)
    torch.testing.assert_close(lr, torch.floor(bicubic_downscale(hr, 4).clamp(0, 1) * 255 + 0.5) / 255)
    assert is_8_bit(lr) and lr.dtype == hr.dtype


def test_make_lr_without_quantisation_is_only_clamped() -> None:
    hr = images()
    lr = make_lr(hr, 4, quantize=False)
    torch.testing.assert_close(lr, bicubic_downscale(hr, 4).clamp(0, 1))
    assert not is_8_bit(lr)


def test_a_degradation_returning_the_wrong_shape_is_a_one_line_error() -> None:
    def cropping(hr: torch.Tensor, scale: int, *, generator=None) -> torch.Tensor:
        return bicubic_downscale(hr, scale)[..., 1:]

    with pytest.raises(SrkitError, match=r"returned shape \(2, 3, 8, 7\) for x4, expected \(2, 3, 8, 8\)"):
        make_lr(images(), 4, cropping)


def test_default_levels_are_bicubic_below_the_deepest_which_is_the_degradation() -> None:
    hr = images()
    blur = BlurBicubicDegradation(sigma=1.0)

    def plain(hr: torch.Tensor, scale: int, *, generator=None) -> torch.Tensor:
        return blur(hr, scale)  # a callable without a levels method

    x2, x4 = make_lr_levels(hr, [2, 4], plain)
    torch.testing.assert_close(x2, make_lr(hr, 2))
    torch.testing.assert_close(x4, make_lr(hr, 4, blur))


def test_blur_levels_share_one_sigma_draw_and_the_deepest_equals_make_lr() -> None:
    hr = images(n=3)
    blur = BlurBicubicDegradation(sigma_range=(0.5, 3.0))
    x4, x2 = make_lr_levels(hr, [4, 2], blur, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(x4, make_lr(hr, 4, blur, generator=torch.Generator().manual_seed(5)),
                               rtol=0, atol=0)
    sigma = blur.sample_sigmas(3, torch.Generator().manual_seed(5))
    for i in range(3):
        one = BlurBicubicDegradation(sigma=float(sigma[i]), kernel_size=blur.kernel_size)
        torch.testing.assert_close(x2[i : i + 1], make_lr(hr[i : i + 1], 2, one))


def test_training_degrade_bench_and_validation_make_the_same_lr(hr_folder: Path,
                                                               tmp_path: Path) -> None:
    batch = first_batch(hr_folder, 4)
    # The training HR crop (flipped/rotated) as a file: the other paths start from it.
    save_image(batch.hr[0], tmp_path / "same" / "a.png")
    assert torch.equal(load_image(tmp_path / "same" / "a.png"), batch.hr[0])

    main(["degrade", str(tmp_path / "same"), str(tmp_path / "lr"), "--scale", "4"])
    seen = []
    run_bench(BenchOptions(models=["bicubic"], datasets=[str(tmp_path / "same")], scales=[4],
                           progress=False),
              on_image=lambda *args: seen.append(args[4]))
    validation_lr = Validator(str(tmp_path / "same"), 4, torch.device("cpu")).images[0][2]

    assert is_8_bit(batch.lr)
    assert torch.equal(load_image(tmp_path / "lr" / "a.png"), batch.lr[0])
    assert torch.equal(seen[0], batch.lr)
    assert torch.equal(validation_lr, batch.lr)


def test_training_lr_stays_float_with_quantisation_off(hr_folder: Path) -> None:
    batch = first_batch(hr_folder, 4, quantize_lr=False)
    assert not is_8_bit(batch.lr)
    torch.testing.assert_close(batch.lr, make_lr(batch.hr, 4, quantize=False))


def test_batches_carry_the_levels_a_recipe_asks_for(hr_folder: Path) -> None:
    batch = first_batch(hr_folder, 8, factors=(4, 2), degradation="blur-bicubic")
    assert sorted(batch.lr_levels) == [2, 4]
    x8, x4, x2 = make_lr_levels(batch.hr, [8, 4, 2], BlurBicubicDegradation())
    assert torch.equal(batch.lr, x8)
    assert torch.equal(batch.lr_levels[4], x4) and torch.equal(batch.lr_levels[2], x2)
    # blurred levels, not plain bicubic ones
    assert not torch.equal(batch.lr_levels[2], make_lr(batch.hr, 2))


def test_paired_batches_take_the_lr_from_the_folder_and_levels_from_the_hr(hr_folder: Path,
                                                                          tmp_path: Path) -> None:
    lr = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(1))
    save_image(lr, tmp_path / "lr" / "a.png")
    batch = first_batch(hr_folder, 8, factors=(4, 2), data_lr=str(tmp_path / "lr"))
    assert sorted(batch.lr_levels) == [2, 4]
    assert batch.lr.shape == (1, 3, 6, 6)
    torch.testing.assert_close(batch.lr_levels[2], make_lr(batch.hr, 2))
    assert first_batch(hr_folder, 8, data_lr=str(tmp_path / "lr")).lr_levels == {}


def test_bicubic_levels_are_bicubic_at_every_factor() -> None:
    hr = images()
    levels = make_lr_levels(hr, [2, 4], BicubicDegradation())
    torch.testing.assert_close(levels[0], make_lr(hr, 2))
    torch.testing.assert_close(levels[1], make_lr(hr, 4))
