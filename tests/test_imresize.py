"""imresize reproduces MATLAB's bicubic resize: checked against a per-pixel reference and known weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from srkit.degradations import imresize as imresize_module
from srkit.degradations.imresize import imresize, resize_matrix
from srkit.errors import SrkitError


def reference_cubic(x: float) -> float:
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def reference_mirror(index: int, length: int) -> int:
    """Symmetric padding (edge repeated) of a 1-based index, folded until it lands inside."""
    while index < 1 or index > length:
        index = 1 - index if index < 1 else 2 * length + 1 - index
    return index


def reference_taps(out_index: int, in_length: int, scale: float) -> list[tuple[int, float]]:
    """(0-based input index, weight) pairs of one 1-based output position, as imresize.m does."""
    stretch = min(scale, 1.0)  # antialiasing widens the kernel only when shrinking
    width = 4 / stretch
    centre = out_index / scale + 0.5 * (1 - 1 / scale)
    first = math.floor(centre - width / 2)
    taps = [
        (j, stretch * reference_cubic(stretch * (centre - j)))
        for j in range(first, first + math.ceil(width) + 2)
    ]
    total = sum(w for _, w in taps)
    return [(reference_mirror(j, in_length) - 1, w / total) for j, w in taps]


def reference_imresize(
    image: np.ndarray, out_h: int, out_w: int, scale_h: float, scale_w: float
) -> np.ndarray:
    """Slow per-pixel 2-D bicubic resize of a (C,H,W) array."""
    channels, in_h, in_w = image.shape
    out = np.zeros((channels, out_h, out_w))
    for i in range(out_h):
        rows = reference_taps(i + 1, in_h, scale_h)
        for j in range(out_w):
            cols = reference_taps(j + 1, in_w, scale_w)
            for c in range(channels):
                out[c, i, j] = sum(wr * wc * image[c, r, q] for r, wr in rows for q, wc in cols)
    return out


@pytest.fixture(params=["matrix", "taps"])
def resize_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both implementations: dense matrices and per-tap gathering."""
    if request.param == "taps":
        monkeypatch.setattr(imresize_module, "DENSE_TAPS_RATIO", 0)
    return request.param


@pytest.mark.parametrize("scale", [2, 3, 4, 1 / 2, 1 / 3, 1 / 4, 0.6, 1.7])
def test_imresize_matches_per_pixel_reference(scale: float, resize_path: str) -> None:
    image = torch.rand(2, 9, 11, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out_h, out_w = math.ceil(9 * scale - 1e-9), math.ceil(11 * scale - 1e-9)
    expected = reference_imresize(image.numpy(), out_h, out_w, scale, scale)
    result = imresize(image, scale)
    assert result.shape == (2, out_h, out_w)
    np.testing.assert_allclose(result.numpy(), expected, atol=1e-12)


def test_imresize_to_size_uses_each_dimension_own_ratio(resize_path: str) -> None:
    image = torch.rand(1, 8, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = reference_imresize(image.numpy(), 5, 30, 5 / 8, 30 / 12)
    np.testing.assert_allclose(imresize(image, size=(5, 30)).numpy(), expected, atol=1e-12)


def test_upscale_by_two_uses_matlab_bicubic_weights() -> None:
    # Output 9 sits at input 4.75 (1-based): taps at distances 1.75, 0.75, 0.25, 1.25.
    matrix = resize_matrix(8, 16, 2.0)
    np.testing.assert_allclose(matrix[8, 2:6].numpy(), [-0.0234375, 0.2265625, 0.8671875, -0.0703125])
    assert matrix[8].count_nonzero() == 4


def test_downscale_by_two_widens_the_kernel_for_antialiasing() -> None:
    # Output 4 sits at input 7.5: eight taps of cubic(x / 2) / 2 at distances 3.5 ... 0.5 ... 3.5.
    matrix = resize_matrix(16, 8, 0.5)
    half = [-0.01171875, -0.03515625, 0.11328125, 0.43359375]
    np.testing.assert_allclose(matrix[3, 3:11].numpy(), half + half[::-1])
    assert matrix[3].count_nonzero() == 8


def test_border_taps_are_mirrored_with_the_edge_repeated() -> None:
    matrix = resize_matrix(6, 12, 2.0)
    # Output 1 sits at input 0.25 (1-based): taps -1, 0, 1, 2 fold onto 2, 1, 1, 2.
    np.testing.assert_allclose(
        matrix[0, :2].numpy(), [0.8671875 + 0.2265625, -0.0234375 - 0.0703125], atol=1e-15
    )
    torch.testing.assert_close(matrix.sum(dim=1), torch.ones(12, dtype=torch.float64))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_constant_image_stays_constant_down_then_up(scale: int) -> None:
    image = torch.full((1, 3, 24, 24), 0.37)
    down = imresize(image, 1 / scale)
    up = imresize(down, scale)
    assert down.shape[-2:] == (24 // scale, 24 // scale)
    assert up.shape == image.shape
    torch.testing.assert_close(up, image)


@pytest.mark.parametrize("length", [255, 300, 999])
def test_one_third_of_a_multiple_of_three_is_exact(length: int) -> None:
    # 1/3 is not exact in floating point; ceil(length / 3) must not gain a pixel.
    assert imresize(torch.zeros(1, 1, 6, length), 1 / 3).shape[-1] == length // 3


def test_batched_resize_equals_per_image_resize(resize_path: str) -> None:
    batch = torch.rand(3, 3, 10, 14, generator=torch.Generator().manual_seed(2))
    together = imresize(batch, 1 / 2)
    one_by_one = torch.cat([imresize(image[None], 1 / 2) for image in batch])
    torch.testing.assert_close(together, one_by_one)


def test_unbatched_input_keeps_its_rank(resize_path: str) -> None:
    image = torch.rand(3, 10, 14)
    result = imresize(image, 2)
    assert result.shape == (3, 20, 28)
    torch.testing.assert_close(result, imresize(image[None], 2)[0])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_result_keeps_the_input_dtype(dtype: torch.dtype) -> None:
    image = torch.rand(1, 3, 8, 8).to(dtype)
    result = imresize(image, 1 / 2)
    assert result.dtype == dtype
    torch.testing.assert_close(result.float(), imresize(image.float(), 1 / 2), atol=1e-2, rtol=0)


def test_results_are_not_clamped() -> None:
    # A hard edge rings: bicubic interpolation overshoots both ends.
    image = torch.zeros(1, 1, 8, 8)
    image[..., 4:] = 1
    result = imresize(image, 3)
    assert result.min() < 0 and result.max() > 1


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((2,), {"size": (4, 4)}), ((0,), {}), ((-1,), {}), ((), {"size": (0, 4)})],
)
def test_bad_arguments_raise_srkit_error(args: tuple, kwargs: dict) -> None:
    with pytest.raises(SrkitError):
        imresize(torch.rand(1, 3, 8, 8), *args, **kwargs)


def test_integer_images_are_refused() -> None:
    with pytest.raises(SrkitError, match="float"):
        imresize(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 2)


def test_reduced_precision_matmul_setting_does_not_change_results() -> None:
    image = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    exact = imresize(image.double(), 1 / 4).float()
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        fast_setting = imresize(image, 1 / 4)
    finally:
        torch.set_float32_matmul_precision(previous)
    torch.testing.assert_close(fast_setting, exact, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_result_matches_cpu() -> None:
    image = torch.rand(2, 3, 32, 40, dtype=torch.float64)
    torch.testing.assert_close(imresize(image.cuda(), 1 / 3).cpu(), imresize(image, 1 / 3))
