"""The realistic degradations: seeded determinism, drawn ranges, fixed variants, shapes, CLI,
sinc filters and unsharp masking."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srkit.api import SrkitError, build_degradation, gaussian_blur, load_image
from srkit.testing import srkit_main
from srkit_realistic.kernels import apply_kernels, blur_kernels, sinc_kernels
from srkit_realistic.ops import gaussian_noise, jpeg
from srkit_realistic.pipeline import BlurNoiseJpegDegradation, RealisticDegradation
from srkit_realistic.ranges import FINAL, FIRST_ORDER, SECOND_ORDER
from srkit_realistic.sampling import draw_final, draw_stage
from srkit_realistic.sharpen import gaussian_taps, unsharp_mask


def _smooth_images(n: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Photo-like (low-frequency) images, so blur and JPEG behave as on real pictures."""
    coarse = torch.rand(n, 3, size // 8, size // 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("spec", ["realistic", "realistic:order=1",
                                  "blur-noise-jpeg:sigma=2,noise=10,q=50"])
def test_same_seed_same_lr_and_other_seed_other_lr(spec: str) -> None:
    degrade, hr = build_degradation(spec), _smooth_images()
    first = degrade(hr, 4, generator=_seeded(3))
    assert torch.equal(first, degrade(hr, 4, generator=_seeded(3)))
    assert not torch.equal(first, degrade(hr, 4, generator=_seeded(4)))


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("scale", [2, 4])
def test_lr_has_the_lr_shape_and_8_bit_values_in_range(order: int, scale: int) -> None:
    lr = RealisticDegradation(order=order)(_smooth_images(4, 48), scale, generator=_seeded(0))
    assert lr.shape == (4, 3, 48 // scale, 48 // scale)
    assert 0 <= lr.min() and lr.max() <= 1
    assert torch.equal(lr, (lr * 255).round() / 255)  # JPEG is the last step


@pytest.mark.parametrize("ranges", [FIRST_ORDER, SECOND_ORDER], ids=["first", "second"])
def test_drawn_parameters_stay_within_the_documented_ranges(ranges) -> None:  # noqa: ANN001
    generator = _seeded(0)
    factors = []
    for _ in range(60):
        draw = draw_stage(ranges, 50, generator)
        for values, (low, high) in ((draw.sigma_x, ranges.sigma), (draw.sigma_y, ranges.sigma),
                                    (draw.noise_sigma, ranges.noise_sigma),
                                    (draw.poisson_scale, ranges.poisson_scale),
                                    (draw.jpeg_quality, ranges.jpeg_quality),
                                    (draw.kernel_size, ranges.kernel_sizes),
                                    (draw.theta, (-math.pi, math.pi))):
            assert low <= values.min() and values.max() <= high
        assert torch.all(draw.kernel_size % 2 == 1)
        for shape, beta in zip(draw.shape, draw.beta.tolist(), strict=True):
            low, high = {"generalized": ranges.beta_generalized}.get(shape, ranges.beta_plateau)
            assert shape == "gaussian" or low <= beta <= high
        factors.append(draw.resize_factor)
    low, high = ranges.resize_scale
    assert all(low <= f <= high for f in factors)
    assert min(factors) < 1 < max(factors)  # both directions are drawn


def test_kernels_are_normalised_and_zero_outside_their_own_size() -> None:
    ones = torch.ones(3)
    kernels = blur_kernels(["gaussian", "generalized", "plateau"], ones * 2, ones * 2, ones * 0,
                           ones * 1.5, torch.tensor([7, 11, 21]))
    assert kernels.shape == (3, 21, 21)
    assert torch.allclose(kernels.sum(dim=(1, 2)), torch.ones(3))
    assert kernels[0, :7].abs().sum() == 0 and kernels[0, 7:14, 7:14].min() > 0
    assert torch.allclose(kernels, kernels.flip(-1)) and torch.allclose(kernels, kernels.flip(-2))


def test_anisotropic_kernel_rotated_90_degrees_swaps_its_axes() -> None:
    one = torch.ones(1)
    wide = blur_kernels(["gaussian"], one * 3, one * 0.5, one * 0, one, torch.tensor([15]))
    turned = blur_kernels(["gaussian"], one * 3, one * 0.5, one * math.pi / 2, one, torch.tensor([15]))
    assert torch.allclose(turned[0], wide[0].T, atol=1e-7)
    assert wide[0, 7].sum() > wide[0, :, 7].sum()  # spread along x


def test_isotropic_gaussian_blur_equals_the_core_separable_blur() -> None:
    images = _smooth_images(2, 40)
    one = torch.ones(2)
    kernels = blur_kernels(["gaussian"] * 2, one * 1.3, one * 1.3, one * 0, one, torch.tensor([9, 9]))
    expected = gaussian_blur(images, torch.full((2,), 1.3), 9)
    assert torch.allclose(apply_kernels(images, kernels), expected, atol=1e-6)


def test_gaussian_noise_has_the_asked_standard_deviation() -> None:
    flat = torch.full((2, 3, 128, 128), 0.5)
    noisy = gaussian_noise(flat, torch.tensor([10 / 255, 2 / 255]), torch.tensor([False, True]),
                           _seeded(0))
    std = (noisy - flat).std(dim=(1, 2, 3)) * 255
    assert abs(std[0] - 10) < 0.3 and abs(std[1] - 2) < 0.1
    assert torch.equal(noisy[1, 0], noisy[1, 2])  # grey noise: the same on every channel


def test_lower_jpeg_quality_loses_more() -> None:
    images = _smooth_images(2, 64) * 0.5 + torch.rand(2, 3, 64, 64, generator=_seeded(1)) * 0.5
    errors = (jpeg(images, torch.tensor([30, 95])) - images).abs().mean(dim=(1, 2, 3))
    assert errors[0] > errors[1]


def test_fixed_variant_without_noise_and_jpeg_is_blur_then_bicubic() -> None:
    hr = _smooth_images(2, 32)
    lr = build_degradation("blur-noise-jpeg:sigma=1.5,noise=0,q=0")(hr, 4)
    expected = build_degradation("blur-bicubic:sigma=1.5")(hr, 4).clamp(0, 1)
    assert torch.allclose(lr, expected, atol=1e-6)


def test_spec_parameters_reach_the_factory() -> None:
    degrade = build_degradation("blur-noise-jpeg:sigma=1,sigma2=3,theta=30,noise=4,q=80,"
                                "resize=area,grey=true")
    assert (degrade.sigma, degrade.sigma2, degrade.theta) == (1.0, 3.0, 30.0)
    assert (degrade.noise, degrade.q, degrade.resize, degrade.grey) == (4.0, 80, "area", True)
    assert degrade.kernel_size == 19
    assert isinstance(degrade, BlurNoiseJpegDegradation)
    assert build_degradation("realistic:order=1,jpeg=off").jpeg is False


@pytest.mark.parametrize(("spec", "message"), [
    ("blur-noise-jpeg:blur=2", "has no blur option"),
    ("blur-noise-jpeg:q=high", "q must be int"),
    ("blur-noise-jpeg:q=500", "q must be a JPEG quality"),
    ("blur-noise-jpeg:resize=nearest", "resize must be one of"),
    ("realistic:order=3", "order must be 1 or 2"),
])
def test_bad_parameters_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(SrkitError, match=message) as info:
        build_degradation(spec)
    assert "\n" not in str(info.value)


def _write_photos(folder: Path, count: int = 2) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        pixels = (_smooth_images(1, 48, seed=i)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.png")


def test_degrade_cli_writes_the_seeded_fixed_degradation(tmp_path: Path) -> None:
    _write_photos(tmp_path / "hr")
    spec = "blur-noise-jpeg:sigma=1,noise=6,q=60"
    for out, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        srkit_main(["degrade", str(tmp_path / "hr"), str(tmp_path / out), "-s", "4", "-d", spec,
              "--seed", seed])
    a, b, c = (load_image(tmp_path / out / "p1.png") for out in "abc")
    assert a.shape == (3, 12, 12)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the file is the degradation of the image batch in file order, from the seed's generator
    generator = _seeded(5)
    degrade = build_degradation(spec)
    for name in ("p0", "p1"):
        expected = degrade(load_image(tmp_path / "hr" / f"{name}.png")[None], 4, generator=generator)
        assert torch.equal(load_image(tmp_path / "a" / f"{name}.png"), expected[0])


def test_sinc_kernels_are_the_circular_low_pass_of_bessel_j1() -> None:
    special = pytest.importorskip("scipy.special")
    cutoff, size = 1.3, 9
    kernel = sinc_kernels(torch.tensor([cutoff]), torch.tensor([size]), 13)[0].double()
    c = (size - 1) / 2
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    r = np.hypot(i - c, j - c)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    expected[int(c), int(c)] = cutoff**2 / (4 * np.pi)
    expected /= expected.sum()
    assert torch.allclose(kernel[2:11, 2:11], torch.from_numpy(expected), atol=1e-6)
    assert kernel[:2].abs().sum() == 0 and kernel[:, 11:].abs().sum() == 0  # zero outside its size


def test_unsharp_mask_is_the_two_dimensional_statement() -> None:
    images = _smooth_images(2, 64) * 0.8 + 0.1 * torch.rand(2, 3, 64, 64, generator=_seeded(1))
    taps = gaussian_taps(51)
    assert taps.sum().item() == pytest.approx(1.0)
    sigma = 0.3 * (25 - 1) + 0.8  # OpenCV's default for 51 taps
    assert taps[25] / taps[24] == pytest.approx(math.exp(1 / (2 * sigma**2)), rel=1e-5)
    kernel = (taps[:, None] * taps[None, :])[None, None]

    def blur(x: torch.Tensor) -> torch.Tensor:
        padded = torch.nn.functional.pad(x.reshape(-1, 1, 64, 64), (25,) * 4, mode="reflect")
        return torch.nn.functional.conv2d(padded, kernel).reshape(x.shape)

    residual = images - blur(images)
    mask = blur((residual.abs() * 255 > 10).float())
    expected = mask * (images + 0.5 * residual).clamp(0, 1) + (1 - mask) * images
    torch.testing.assert_close(unsharp_mask(images), expected, rtol=0, atol=1e-5)


def test_sharpen_degrades_the_unsharp_masked_hr() -> None:
    hr = _smooth_images(2, 64)
    sharpened = RealisticDegradation(sharpen=True)(hr, 4, generator=_seeded(2))
    assert torch.equal(sharpened, RealisticDegradation()(unsharp_mask(hr), 4, generator=_seeded(2)))
    assert not torch.equal(sharpened, RealisticDegradation()(hr, 4, generator=_seeded(2)))


def test_final_step_draws_stay_within_the_official_ranges() -> None:
    generator, orders = _seeded(0), []
    for _ in range(200):
        final = draw_final(FINAL, 8, generator)
        low, high = FINAL.sinc_cutoff
        assert ((low <= final.sinc_cutoff) & (final.sinc_cutoff <= high)).all()
        assert ((final.kernel_size % 2 == 1) & (final.kernel_size >= 7) & (final.kernel_size <= 21)).all()
        orders.append(final.jpeg_first)
    assert 0.4 < sum(orders) / len(orders) < 0.6  # the two orders, half each
    stage = draw_stage(FIRST_ORDER, 1000, _seeded(1))
    assert 0.07 < stage.sinc.float().mean().item() < 0.13  # sinc_prob 0.1
    small = stage.kernel_size < 13
    assert (stage.sinc_cutoff[small] >= math.pi / 3).all() and (stage.sinc_cutoff >= math.pi / 5).all()


def test_without_sinc_the_second_order_model_is_the_plain_one() -> None:
    hr = _smooth_images(2, 48)
    plain = RealisticDegradation(sinc=False)(hr, 4, generator=_seeded(3))
    with_sinc = RealisticDegradation()(hr, 4, generator=_seeded(3))
    assert plain.shape == with_sinc.shape == (2, 3, 12, 12)
    assert not torch.equal(plain, with_sinc)
    assert build_degradation("realistic:sinc=false,sharpen=true").sharpen is True
