"""PSNR/SSIM follow the MATLAB evaluation scripts: 8-bit values, BT.601 luma, border crop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from srkit.errors import SrkitError
from srkit.metrics import psnr, psnr_ssim, quantize, rgb_to_y, ssim
from srkit.metrics.ssim import ssim_of_planes
from tests.thread_helpers import caller_threads, record_thread_counts


def pair(n: int = 2, size: int = 32, noise: float = 0.05, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    hr = torch.rand(n, 3, size, size, generator=generator)
    sr = (hr + noise * torch.randn(hr.shape, generator=generator)).clamp(0, 1)
    return sr, hr


def reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s ssim_index.m on two 2-D arrays in 0..255 (11x11 Gaussian, sigma 1.5, valid)."""
    x = np.arange(11) - 5
    window = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5**2))
    window /= window.sum()

    def filter_valid(image: np.ndarray) -> np.ndarray:
        return np.einsum("ijkl,kl->ij", sliding_window_view(image, (11, 11)), window)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = filter_valid(a), filter_valid(b)
    var_a = filter_valid(a * a) - mu_a**2
    var_b = filter_valid(b * b) - mu_b**2
    cov = filter_valid(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def reference_y(image: torch.Tensor) -> np.ndarray:
    """BasicSR's Y (MATLAB rgb2ycbcr on im2double) on 0..255 for one 8-bit (3,H,W) image in [0, 1]."""
    r, g, b = np.floor(image.double().numpy() * 255 + 0.5) / 255
    return 16 + 65.481 * r + 128.553 * g + 24.966 * b


def reference_matlab_y(image: torch.Tensor) -> np.ndarray:
    """MATLAB rgb2ycbcr's Y of the uint8 image: the same formula, rounded to an integer."""
    return np.floor(reference_y(image) + 0.5)


def test_rgb_to_y_spans_studio_range() -> None:
    black, white = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    assert rgb_to_y(black).item() == pytest.approx(16 / 255)
    assert rgb_to_y(white).item() == pytest.approx(235 / 255)
    red = torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1)
    assert rgb_to_y(red).item() == pytest.approx((16 + 65.481) / 255)


def test_rgb_to_y_keeps_unbatched_rank() -> None:
    assert rgb_to_y(torch.rand(3, 4, 5)).shape == (1, 4, 5)


def test_rounded_y_is_the_unrounded_y_rounded_to_integers() -> None:
    image = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    rounded = rgb_to_y(quantize(image), rounded=True)[0].numpy() * 255
    np.testing.assert_allclose(rounded, reference_matlab_y(image), rtol=0, atol=1e-9)
    assert not np.allclose(rounded, reference_y(image))


def test_rounded_y_rounds_exact_halves_up() -> None:
    # (0, 0, 220): 16 + 24.966 * 220 / 255 = 37.54 -> 38; (0, 204, 68) is exactly 125.5 -> 126.
    levels = torch.tensor([[0, 0, 220], [0, 204, 68]], dtype=torch.float32).T.reshape(3, 1, 2) / 255
    assert (rgb_to_y(levels, rounded=True) * 255).round().flatten().tolist() == [38.0, 126.0]


def test_rounded_y_differs_from_rounding_the_float_formula_only_on_exact_halves() -> None:
    # Every 8-bit colour, 32 red levels at a time: MATLAB's double arithmetic can land either
    # side of an exact .5; everywhere else both roundings agree.
    r, g, b = torch.meshgrid(torch.arange(32), torch.arange(256), torch.arange(256), indexing="ij")
    ties = differences_off_ties = 0
    for first_red in range(0, 256, 32):
        rgb = torch.stack([r + first_red, g, b], dim=1)  # (32, 3, 256, 256)
        ours = rgb_to_y(rgb.double() / 255, rounded=True)[:, 0] * 255
        rgb = rgb.movedim(1, 0)
        tie = (65481 * rgb[0] + 128553 * rgb[1] + 24966 * rgb[2]) % 255000 == 127500
        red, green, blue = rgb.double()
        formula = torch.floor(16 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255 + 0.5)
        ties += int(tie.sum())
        differences_off_ties += int(((ours.round() != formula) & ~tie).sum())
    assert differences_off_ties == 0
    assert ties == 194


def test_levels_of_float32_images_round_halves_up_next_to_every_half_level() -> None:
    from srkit.metrics.color import to_levels

    # The float32 values nearest each (k + 0.5) / 255 and 0.5, 1.5, -0.5 (exact halves): their
    # levels must be floor(255 x + 0.5) computed exactly, like float64 inputs' levels.
    halves = torch.tensor([(k + 0.5) / 255 for k in range(-2, 257)] + [0.5, 1.5, -0.5], dtype=torch.float64)
    values = halves.float()
    near = [values]
    for direction in (1.0, -1.0):
        step = values
        for _ in range(4):
            step = torch.nextafter(step, torch.full_like(step, direction * 10))
            near.append(step)
    x = torch.cat(near)
    exact = torch.floor(x.double() * 255 + 0.5).clamp(0, 255)
    assert torch.equal(to_levels(x, torch.float64), exact)
    assert torch.equal(to_levels(x.double(), torch.float64), exact)


def test_quantize_rounds_half_up_and_clamps() -> None:
    values = torch.tensor([-0.2, 0.5 / 255, 1.49 / 255, 2.5 / 255, 1.3], dtype=torch.float64)
    expected = torch.tensor([0, 1, 1, 3, 255], dtype=torch.float64) / 255
    torch.testing.assert_close(quantize(values), expected)


def test_psnr_of_identical_images_is_inf() -> None:
    _, hr = pair()
    assert torch.isinf(psnr(hr, hr, crop=2)).all()


def test_ssim_of_identical_images_is_one() -> None:
    _, hr = pair()
    torch.testing.assert_close(ssim(hr, hr, crop=2), torch.ones(2, dtype=torch.float64))


def test_psnr_of_a_constant_offset() -> None:
    hr = torch.zeros(1, 3, 16, 16)
    sr = torch.full_like(hr, 10 / 255)
    assert psnr(sr, hr, crop=0, y_channel=False).item() == pytest.approx(20 * math.log10(255 / 10))
    # Grey offsets shrink by 219/255 in luma: 8.59 levels unrounded, 25 - 16 = 9 rounded.
    basicsr = psnr(sr, hr, crop=0, y_channel="basicsr").item()
    assert basicsr == pytest.approx(20 * math.log10(255 / (10 * 219 / 255)))
    assert psnr(sr, hr, crop=0).item() == pytest.approx(20 * math.log10(255 / 9))
    assert psnr(sr, hr, crop=0, y_channel="matlab").item() == psnr(sr, hr, crop=0).item()


@pytest.mark.parametrize(("mode", "luma"), [("basicsr", reference_y), ("matlab", reference_matlab_y)])
def test_psnr_matches_numpy_on_the_luma(mode: str, luma) -> None:
    sr, hr = pair(n=1)
    diff = luma(sr[0])[3:-3, 3:-3] - luma(hr[0])[3:-3, 3:-3]
    expected = 10 * math.log10(255**2 / np.mean(diff**2))
    assert psnr(sr, hr, crop=3, y_channel=mode).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("mode", "luma"), [("basicsr", reference_y), ("matlab", reference_matlab_y)])
def test_ssim_matches_wang_reference_on_the_luma(mode: str, luma) -> None:
    sr, hr = pair(n=1, size=40)
    expected = reference_ssim(luma(sr[0])[2:-2, 2:-2], luma(hr[0])[2:-2, 2:-2])
    assert ssim(sr, hr, crop=2, y_channel=mode).item() == pytest.approx(expected, abs=1e-10)


def test_unknown_y_channel_mode_is_a_one_line_error() -> None:
    sr, hr = pair(n=1)
    with pytest.raises(SrkitError, match="Y channel mode 'ycbcr'"):
        psnr(sr, hr, crop=0, y_channel="ycbcr")


def test_rgb_ssim_averages_the_channels() -> None:
    sr, hr = pair(n=1, size=24)
    sr_255, hr_255 = (np.floor(t[0].double().numpy() * 255 + 0.5) for t in (sr, hr))
    expected = np.mean([reference_ssim(sr_255[c], hr_255[c]) for c in range(3)])
    assert ssim(sr, hr, crop=0, y_channel=False).item() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_batched_scores_equal_per_image_scores(metric) -> None:
    sr, hr = pair(n=3)
    together = metric(sr, hr, crop=2)
    one_by_one = torch.cat([metric(sr[i : i + 1], hr[i : i + 1], crop=2) for i in range(3)])
    torch.testing.assert_close(together, one_by_one)
    assert together.shape == (3,)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_changes_inside_the_cropped_border_do_not_count(metric) -> None:
    sr, hr = pair(n=1)
    damaged = sr.clone()
    damaged[..., :3, :] = 0
    damaged[..., :, -3:] = 1
    torch.testing.assert_close(metric(damaged, hr, crop=3), metric(sr, hr, crop=3))
    assert metric(damaged, hr, crop=2) < metric(sr, hr, crop=2)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_more_noise_scores_lower(metric) -> None:
    _, hr = pair(n=1)
    mild, _ = pair(n=1, noise=0.02)
    strong, _ = pair(n=1, noise=0.1)
    assert metric(strong, hr, crop=0) < metric(mild, hr, crop=0)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_grey_reference_is_compared_on_its_grey_level(metric) -> None:
    sr, hr = pair(n=1)
    grey_hr, grey_sr = hr.mean(dim=1, keepdim=True), sr.mean(dim=1, keepdim=True)
    # An RGB SR whose channels are equal is scored like the grey values themselves, on 0..255.
    expected = metric(grey_sr.expand(-1, 3, -1, -1), grey_hr.expand(-1, 3, -1, -1), crop=0, y_channel=False)
    torch.testing.assert_close(metric(grey_sr.expand(-1, 3, -1, -1), grey_hr, crop=0), expected)


def test_metrics_accept_unbatched_images() -> None:
    sr, hr = pair(n=1)
    torch.testing.assert_close(psnr(sr[0], hr[0], crop=1), psnr(sr, hr, crop=1))


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_shape_mismatch_raises_srkit_error(metric) -> None:
    sr, hr = pair(n=1)
    with pytest.raises(SrkitError, match="differ"):
        metric(sr[..., :-1], hr, crop=0)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_crop_larger_than_the_image_raises_srkit_error(metric) -> None:
    sr, hr = pair(n=1, size=8)
    with pytest.raises(SrkitError, match="crop"):
        metric(sr, hr, crop=4)


def test_ssim_on_images_smaller_than_the_window_raises_srkit_error() -> None:
    sr, hr = pair(n=1, size=12)
    with pytest.raises(SrkitError, match="window"):
        ssim(sr, hr, crop=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("metric", [psnr, ssim])
def test_cuda_scores_match_cpu(metric) -> None:
    sr, hr = pair(n=2)
    torch.testing.assert_close(metric(sr.cuda(), hr.cuda(), crop=2).cpu(), metric(sr, hr, crop=2))


@pytest.mark.parametrize("mode", ["matlab", "basicsr", False])
def test_psnr_ssim_equals_the_two_metrics(mode) -> None:
    sr, hr = pair(n=3, size=40)
    together = psnr_ssim(sr, hr, crop=2, y_channel=mode)
    torch.testing.assert_close(together[0], psnr(sr, hr, crop=2, y_channel=mode), rtol=0, atol=0)
    torch.testing.assert_close(together[1], ssim(sr, hr, crop=2, y_channel=mode), rtol=0, atol=0)


# The 40x36 images leave a 26x22 SSIM map: pieces of one row, of 5-row strips (the last one row
# high), of three whole planes.
@pytest.mark.parametrize("piece_pixels", [1, 5 * 22, 3 * 26 * 22])
def test_ssim_filters_in_pieces_without_changing_the_result(monkeypatch, piece_pixels: int) -> None:
    import importlib

    ssim_module = importlib.import_module("srkit.metrics.ssim")
    sr, hr = pair(n=5, size=40)
    sr, hr = sr[..., :36], hr[..., :36]
    whole = ssim(sr, hr, crop=2)
    monkeypatch.setattr(ssim_module, "CPU_PIECE_PIXELS", piece_pixels)
    torch.testing.assert_close(ssim(sr, hr, crop=2), whole, rtol=0, atol=1e-15)


@pytest.mark.parametrize("mode", ["matlab", "basicsr", False])
@pytest.mark.parametrize("chunk_pixels", [1, 3 * 48 * 40, 1 << 30])  # 1 image, 3 images, all
def test_batched_psnr_ssim_equals_the_per_image_call(monkeypatch, mode, chunk_pixels: int) -> None:
    import importlib

    monkeypatch.setattr(importlib.import_module("srkit.metrics.pairs"), "CPU_CHUNK_PIXELS", chunk_pixels)
    sr, hr = pair(n=7, size=48)
    sr, hr = sr[..., :40], hr[..., :40]
    batched = psnr_ssim(sr, hr, crop=3, y_channel=mode)
    one_by_one = [psnr_ssim(sr[i], hr[i], crop=3, y_channel=mode) for i in range(7)]
    torch.testing.assert_close(batched[0], torch.cat([p for p, _ in one_by_one]), rtol=0, atol=1e-6)
    torch.testing.assert_close(batched[1], torch.cat([s for _, s in one_by_one]), rtol=0, atol=1e-6)
    assert batched[0].shape == batched[1].shape == (7,)


def test_float32_filtering_misses_the_1e_6_bound_on_flat_bright_planes() -> None:
    # Why SSIM filters in float64: E[x²] - E[x]² cancels on bright, nearly flat planes.
    generator = torch.Generator().manual_seed(0)
    flat = torch.full((4, 1, 64, 64), 234.0, dtype=torch.float64)
    x = flat + torch.randint(-1, 2, flat.shape, generator=generator)
    y = flat + torch.randint(-1, 2, flat.shape, generator=generator)
    exact = ssim_of_planes(x, y, dtype=torch.float64)
    assert (ssim_of_planes(x, y, dtype=torch.float32) - exact).abs().max() > 1e-6
    assert torch.equal(ssim_of_planes(x, y), exact)


def test_cpu_metrics_choose_one_thread_and_restore_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_thread_counts(monkeypatch, "srkit.metrics.ssim", "_ssim_sums")
    with caller_threads(2):
        images = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(0))
        psnr_ssim(images, images.flip(-1), crop=2)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
