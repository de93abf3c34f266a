"""srkit.inference: tiling, self-ensemble, precision, out-of-memory fallback and srkit.upscale."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torch import nn

from srkit.errors import SrkitError
from srkit.inference import run_model, tiled_forward, upscale


class SmallConvSR(nn.Module):
    """Three 3x3 convs (receptive field radius 3 LR pixels) then a pixel shuffle."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x))


class SymmetricSR(nn.Module):
    """Nearest upsampling then a depthwise conv with a flip/rotation-symmetric kernel.

    Every dihedral transform commutes with it, so self-ensemble must not change its output.
    """

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        kernel = torch.tensor([[0.05, 0.1, 0.05], [0.1, 0.4, 0.1], [0.05, 0.1, 0.05]])
        self.conv = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
        self.conv.weight.data.copy_(kernel.expand(3, 1, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest"))


class MemoryHungrySR(SmallConvSR):
    """Raises CUDA-style out-of-memory for inputs with a side above ``limit`` pixels."""

    def __init__(self, limit: int) -> None:
        super().__init__(scale=2)
        self.limit = limit
        self.largest_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if max(x.shape[-2:]) > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.largest_seen = max(self.largest_seen, *x.shape[-2:])
        return super().forward(x)


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(1, 3, 37, 29, generator=torch.Generator().manual_seed(0))


def test_tiled_output_matches_whole_image_within_one_level(image: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = SmallConvSR().eval()
    whole = run_model(model, image)
    tiled = run_model(model, image, tile=8, overlap=4)
    assert tiled.shape == whole.shape == (1, 3, 74, 58)
    assert (tiled - whole).abs().max() < 1e-5  # far inside 1/255: only float rounding differs


def test_tiles_too_small_an_overlap_differ_proving_the_check_is_sensitive(image: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = SmallConvSR().eval()
    whole = run_model(model, image)
    tiled = run_model(model, image, tile=8, overlap=0)
    assert (tiled - whole).abs().max() > 1e-3


def test_tiled_forward_rejects_nonpositive_tile(image: torch.Tensor) -> None:
    with pytest.raises(SrkitError, match="tile"):
        tiled_forward(SmallConvSR(), image, 2, tile=0)


def test_self_ensemble_of_an_equivariant_model_equals_plain_output(image: torch.Tensor) -> None:
    model = SymmetricSR().eval()
    plain = run_model(model, image)
    ensemble = run_model(model, image, self_ensemble=True)
    assert torch.allclose(plain, ensemble, atol=1e-6)


def test_self_ensemble_averages_a_non_equivariant_model(image: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = SmallConvSR().eval()
    plain = run_model(model, image)
    ensemble = run_model(model, image, self_ensemble=True)
    assert ensemble.shape == plain.shape
    assert (ensemble - plain).abs().max() > 1e-4


def test_bf16_runs_on_cpu_and_stays_close_to_fp32(image: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = SmallConvSR().eval()
    fp32 = run_model(model, image)
    bf16 = run_model(model, image, precision="bf16")
    assert bf16.dtype == torch.float32
    assert (bf16 - fp32).abs().max() < 0.05


def test_fp16_on_cpu_is_a_one_line_error(image: torch.Tensor) -> None:
    with pytest.raises(SrkitError, match="fp16: only supported on CUDA"):
        run_model(SmallConvSR(), image, precision="fp16")


def test_out_of_memory_falls_back_to_tiles_with_a_warning() -> None:
    torch.manual_seed(0)
    model = MemoryHungrySR(limit=60).eval()
    lr = torch.rand(1, 3, 80, 80)
    with pytest.warns(UserWarning, match="out of memory; retrying with --tile 40"):
        sr = run_model(model, lr, overlap=4)
    assert sr.shape == (1, 3, 160, 160)
    assert model.largest_seen <= 60
    model.limit = 10_000
    assert (sr - run_model(model, lr)).abs().max() < 1e-5


def test_out_of_memory_even_with_smallest_tiles_is_a_one_line_error() -> None:
    model = MemoryHungrySR(limit=4).eval()
    with pytest.raises(SrkitError, match="out of memory even with"), pytest.warns(UserWarning):
        run_model(model, torch.rand(1, 3, 80, 80), overlap=4)


def test_upscale_returns_the_kind_it_was_given(tmp_path, image: torch.Tensor) -> None:
    model = SymmetricSR(scale=3).eval()
    single = upscale(model, image[0])
    assert single.shape == (3, 111, 87) and 0 <= single.min() and single.max() <= 1
    assert upscale(model, image).shape == (1, 3, 111, 87)

    pil = Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).astype("uint8"))
    assert upscale(model, pil).size == (87, 111)
    pil.save(tmp_path / "small.png")
    result = upscale(model, tmp_path / "small.png")
    assert isinstance(result, Image.Image) and result.size == (87, 111)


def test_upscale_exported_from_the_package() -> None:
    import srkit

    image = torch.rand(1, 3, 5, 7)
    assert torch.equal(srkit.upscale(SymmetricSR(), image), upscale(SymmetricSR(), image))


def test_upscale_rejects_non_rgb_tensors() -> None:
    with pytest.raises(SrkitError, match="expected"):
        upscale(SymmetricSR(), torch.rand(1, 1, 8, 8))
