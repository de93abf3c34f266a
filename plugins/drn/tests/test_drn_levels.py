"""DRN's intermediate targets: every level from one draw of the run's degradation, 8-bit like the LR."""

from __future__ import annotations

import torch

from srkit.api import Batch, build_degradation, make_lr
from srkit_drn.levels import level_key, make_levels
from srkit_drn.recipe import DRNConfig, DRNRecipe


def images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_default_levels_are_bicubic_below_the_deepest_which_is_the_degradation() -> None:
    hr = images()
    blur = build_degradation("blur-bicubic:sigma=1.0")

    def plain(hr: torch.Tensor, scale: int, *, generator=None) -> torch.Tensor:
        return blur(hr, scale)  # a callable without a levels method

    x2, x4 = make_levels(hr, [2, 4], plain)
    torch.testing.assert_close(x2, make_lr(hr, 2))
    torch.testing.assert_close(x4, make_lr(hr, 4, blur))


def test_bicubic_levels_are_bicubic_at_every_factor() -> None:
    hr = images()
    levels = make_levels(hr, [2, 4], build_degradation("bicubic"))
    torch.testing.assert_close(levels[0], make_lr(hr, 2))
    torch.testing.assert_close(levels[1], make_lr(hr, 4))


def test_blur_levels_share_one_sigma_draw_and_the_deepest_equals_make_lr() -> None:
    hr = images(n=3)
    blur = build_degradation("blur-bicubic", sigma_range=(0.5, 3.0))
    x4, x2 = make_levels(hr, [4, 2], blur, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(x4, make_lr(hr, 4, blur, generator=torch.Generator().manual_seed(5)),
                               rtol=0, atol=0)
    sigma = blur.sample_sigmas(3, torch.Generator().manual_seed(5))
    for i in range(3):
        one = build_degradation(f"blur-bicubic:sigma={float(sigma[i])},kernel_size={blur.kernel_size}")
        torch.testing.assert_close(x2[i : i + 1], make_lr(hr[i : i + 1], 2, one))


def test_prepared_batches_carry_blurred_levels_from_the_lr_draw() -> None:
    recipe = DRNRecipe(DRNConfig(scale=8, n_feats=4, n_blocks=1, patch_size=64), torch.device("cpu"))
    blur = build_degradation("blur-bicubic", sigma_range=(0.5, 3.0))
    hr = images(n=2, size=64)
    batch = Batch(lr=make_lr(hr, 8, blur, generator=torch.Generator().manual_seed(3)), hr=hr)
    recipe.prepare_batch(batch, blur, torch.Generator().manual_seed(3))
    x8, x4, x2 = make_levels(hr, [8, 4, 2], blur, generator=torch.Generator().manual_seed(3))
    assert torch.equal(batch.lr, x8)
    assert torch.equal(batch.extra[level_key(4)], x4) and torch.equal(batch.extra[level_key(2)], x2)
    assert not torch.equal(batch.extra[level_key(2)], make_lr(hr, 2))  # blurred, not plain bicubic
