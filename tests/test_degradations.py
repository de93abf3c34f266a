"""The core degradations (bicubic, blur-bicubic, nearest, bd): shapes, determinism, what they apply."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.functional import gaussian_blur as torchvision_blur

import srkit.builtin
from srkit.degradations import BicubicDegradation, BlurBicubicDegradation
from srkit.degradations.bicubic import gaussian_blur
from srkit.degradations.imresize import imresize
from srkit.degradations.nearest import BDDegradation, NearestDegradation
from srkit.errors import SrkitError
from srkit.plugins import build_registry
from srkit.registry import Origin


def images(n: int = 2, size: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_bicubic_degradation_is_matlab_downscaling() -> None:
    hr = images()
    lr = BicubicDegradation()(hr, 4)
    assert lr.shape == (2, 3, 6, 6)
    torch.testing.assert_close(lr, imresize(hr, 1 / 4))


@pytest.mark.parametrize("degradation", [BicubicDegradation(), BlurBicubicDegradation()])
def test_hr_size_must_be_a_multiple_of_scale(degradation) -> None:
    with pytest.raises(SrkitError, match="multiple of scale 3"):
        degradation(images(size=25), 3)


def test_gaussian_blur_matches_torchvision() -> None:
    hr = images()
    sigmas = torch.tensor([1.5, 0.8])
    ours = gaussian_blur(hr, sigmas, 9)
    for i, sigma in enumerate(sigmas.tolist()):
        expected = torchvision_blur(hr[i : i + 1], kernel_size=[9, 9], sigma=[sigma, sigma])
        torch.testing.assert_close(ours[i : i + 1], expected)


def test_blur_bicubic_blurs_then_downscales() -> None:
    hr = images()
    lr = BlurBicubicDegradation(sigma=1.2, kernel_size=7)(hr, 2)
    blurred = torchvision_blur(hr, kernel_size=[7, 7], sigma=[1.2, 1.2])
    torch.testing.assert_close(lr, imresize(blurred, 1 / 2))


def test_default_kernel_covers_three_sigmas() -> None:
    assert BlurBicubicDegradation(sigma=1.5).kernel_size == 11
    assert BlurBicubicDegradation(sigma_range=(0.2, 2.0)).kernel_size == 13


def test_randomised_blur_is_deterministic_given_the_seed() -> None:
    degradation = BlurBicubicDegradation(sigma_range=(0.5, 3.0))
    hr = images(n=4)
    first = degradation(hr, 2, generator=torch.Generator().manual_seed(7))
    again = degradation(hr, 2, generator=torch.Generator().manual_seed(7))
    other = degradation(hr, 2, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.allclose(first, other)


def test_randomised_blur_draws_one_sigma_per_image_within_range() -> None:
    degradation = BlurBicubicDegradation(sigma_range=(0.5, 3.0))
    sigmas = degradation.sample_sigmas(64, torch.Generator().manual_seed(0))
    assert sigmas.min() >= 0.5 and sigmas.max() <= 3.0
    assert sigmas.unique().numel() == 64
    same_image_twice = images(n=1).expand(2, -1, -1, -1)
    lr = degradation(same_image_twice, 2, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(lr[0], lr[1])


def test_fixed_sigma_ignores_the_generator() -> None:
    degradation = BlurBicubicDegradation(sigma=1.0)
    hr = images()
    torch.testing.assert_close(
        degradation(hr, 2, generator=torch.Generator().manual_seed(1)), degradation(hr, 2)
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"sigma": 0}, {"sigma": -1.0}, {"kernel_size": 4}, {"sigma_range": (2.0, 1.0)}, {"sigma_range": (0, 1)}],
)
def test_invalid_blur_options_raise_srkit_error(kwargs: dict) -> None:
    with pytest.raises(SrkitError, match="blur-bicubic"):
        BlurBicubicDegradation(**kwargs)


def test_image_smaller_than_the_blur_kernel_raises_srkit_error() -> None:
    with pytest.raises(SrkitError, match="too small"):
        BlurBicubicDegradation(sigma=2.0)(images(size=4), 2)


def test_core_plugin_registers_both_degradations() -> None:
    registry, _ = build_registry([(srkit.builtin, Origin("core"))])
    assert registry.get("degradation", "bicubic") is BicubicDegradation
    assert registry.get("degradation", "blur-bicubic") is BlurBicubicDegradation


def test_nearest_keeps_matlabs_centre_pixel_of_each_block() -> None:
    # MATLAB imresize(x, 1/4, 'nearest') on a 1-based ramp keeps elements 3, 7, 11, ...
    ramp = torch.arange(16.0).view(1, 1, 1, 16).expand(1, 1, 4, 16).contiguous()
    lr = NearestDegradation()(ramp, 4)
    assert lr.shape == (1, 1, 1, 4)
    assert lr.flatten().tolist() == [2.0, 6.0, 10.0, 14.0]
    # x3 keeps 0-based 1, 4, 7 (MATLAB 2, 5, 8); x2 keeps 1, 3, ...
    ramp9 = torch.arange(9.0).view(1, 1, 1, 9).expand(1, 1, 3, 9).contiguous()
    assert NearestDegradation()(ramp9, 3).flatten().tolist() == [1.0, 4.0, 7.0]
    assert NearestDegradation()(ramp, 2)[0, 0, 0].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0]


def test_nearest_levels_downscale_each_factor_directly() -> None:
    hr = images(size=16)
    low, middle = NearestDegradation().levels(hr, [4, 2])
    torch.testing.assert_close(low, hr[..., 2::4, 2::4])
    torch.testing.assert_close(middle, hr[..., 1::2, 1::2])


def test_bd_is_a_7x7_replicate_padded_gaussian_then_nearest() -> None:
    hr = images(size=24)
    x = torch.arange(7.0) - 3
    kernel_1d = torch.exp(-(x**2) / (2 * 1.6**2))
    kernel = torch.outer(kernel_1d, kernel_1d)
    kernel = (kernel / kernel.sum()).expand(3, 1, 7, 7)  # fspecial('gaussian', 7, 1.6)
    padded = torch.nn.functional.pad(hr, (3, 3, 3, 3), mode="replicate")
    blurred = torch.nn.functional.conv2d(padded, kernel, groups=3)
    torch.testing.assert_close(BDDegradation()(hr, 4), blurred[..., 2::4, 2::4])
    low, middle = BDDegradation().levels(hr, [4, 2])
    torch.testing.assert_close(low, BDDegradation()(hr, 4))
    torch.testing.assert_close(middle, blurred[..., 1::2, 1::2])


def test_bd_refuses_an_even_kernel_in_one_line() -> None:
    with pytest.raises(SrkitError, match="bd: kernel_size must be a positive odd number, got 6"):
        BDDegradation(kernel_size=6)
    with pytest.raises(SrkitError, match="multiple of scale 4"):
        BDDegradation()(images(size=26), 4)


def test_nearest_and_bd_are_registered_degradations() -> None:
    from srkit.degradations.spec import build_degradation

    assert isinstance(build_degradation("nearest"), NearestDegradation)
    bd = build_degradation("bd:sigma=1.2,kernel_size=5")
    assert isinstance(bd, BDDegradation) and (bd.sigma, bd.kernel_size) == (1.2, 5)
