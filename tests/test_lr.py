"""One function makes LR everywhere: training batches, ``srkit degrade``, bench and validation agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srkit.cli import main
from srkit.config import TrainConfig
from srkit.degradations import BlurBicubicDegradation, make_lr
from srkit.degradations.bicubic import bicubic_downscale
from srkit.errors import SrkitError
from srkit.evaluation.bench import BenchOptions, run_bench
from srkit.imageio import load_image, save_image
from srkit.interfaces import Batch, Degradation, Recipe, StepContext
from srkit.training.batches import TrainBatches
from srkit.training.distributed import ProcessInfo
from srkit.training.validation import Validator


def images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def is_8_bit(x: torch.Tensor) -> bool:
    return torch.equal(x * 255, (x * 255).round())


class TargetsRecipe(Recipe):
    """The part of a recipe that batches read: with ``factors``, it prepares the LR at each of them
    from the batch's HR (in ``batch.extra["x<factor>"]``), by the degradation and generator given."""

    config_class = TrainConfig

    def __init__(self, config: TrainConfig, factors: tuple[int, ...] = ()) -> None:
        super().__init__(config, torch.device("cpu"))
        self.factors = factors

    def prepare_batch(self, batch: Batch, degradation: Degradation, generator: torch.Generator) -> None:
        for factor in self.factors:
            batch.extra[f"x{factor}"] = make_lr(batch.hr, factor, degradation, generator=generator)

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        raise NotImplementedError


def first_batch(hr_folder: Path, scale: int, factors: tuple[int, ...] = (),
                degradation: Degradation | None = None, **options) -> Batch:
    config = TrainConfig(data=str(hr_folder), scale=scale, patch_size=48, batch_size=1,
                         workers=0, **options)
    batches = TrainBatches(config, TargetsRecipe(config, factors), torch.device("cpu"),
                           ProcessInfo(), start_step=0)
    if degradation is not None:
        batches.degradation = degradation
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


def test_a_recipe_prepares_its_targets_from_the_draw_that_made_the_lr(hr_folder: Path) -> None:
    random_blur = BlurBicubicDegradation(sigma_range=(0.5, 3.0))
    batch = first_batch(hr_folder, 8, factors=(8, 2), degradation=random_blur)
    assert torch.equal(batch.extra["x8"], batch.lr)  # the same sigma: the generator repeats the draw
    assert batch.extra["x2"].shape == (1, 3, 24, 24)


def test_paired_batches_take_the_lr_from_the_folder_and_targets_from_the_hr(hr_folder: Path,
                                                                           tmp_path: Path) -> None:
    lr = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(1))
    save_image(lr, tmp_path / "lr" / "a.png")
    batch = first_batch(hr_folder, 8, factors=(2,), data_lr=str(tmp_path / "lr"))
    assert batch.lr.shape == (1, 3, 6, 6)
    torch.testing.assert_close(batch.extra["x2"], make_lr(batch.hr, 2))
    assert first_batch(hr_folder, 8, data_lr=str(tmp_path / "lr")).extra == {}
