"""RRDBNet and the U-Net discriminator: shapes at every scale, any input size, refusals."""

from __future__ import annotations

import pytest
import torch

from srkit.api import SrkitError
from srkit_realesrgan.arch import RRDBNet, UNetDiscriminatorSN


@pytest.mark.parametrize("scale", [4, 2, 1])
@pytest.mark.parametrize("size", [(8, 12), (9, 7)])
def test_rrdbnet_upscales_any_size_by_its_scale(scale: int, size: tuple[int, int]) -> None:
    net = RRDBNet(scale=scale, channels=8, blocks=1, growth=4).eval()
    with torch.no_grad():
        sr = net(torch.rand(2, 3, *size))
    assert sr.shape == (2, 3, size[0] * scale, size[1] * scale)


def test_odd_sizes_at_x2_are_the_padded_image_cropped_back() -> None:
    net = RRDBNet(scale=2, channels=8, blocks=1, growth=4).eval()
    lr = torch.rand(1, 3, 9, 7)
    padded = torch.nn.functional.pad(lr, (0, 1, 0, 1), mode="reflect")
    with torch.no_grad():
        torch.testing.assert_close(net(lr), net(padded)[..., :18, :14])


def test_rrdbnet_refuses_scales_its_trunk_cannot_make() -> None:
    with pytest.raises(SrkitError, match="scale must be 4, 2 or 1"):
        RRDBNet(scale=8)


def test_discriminator_judges_every_pixel_and_needs_multiples_of_8() -> None:
    net = UNetDiscriminatorSN(channels=8)
    assert net(torch.rand(2, 3, 16, 24)).shape == (2, 1, 16, 24)
    with pytest.raises(SrkitError, match="multiples of 8"):
        net(torch.rand(1, 3, 20, 16))


def test_spectral_norm_vectors_move_in_training_and_stay_in_eval() -> None:
    net = UNetDiscriminatorSN(channels=8)
    before = net.conv1.weight_u.clone()
    net.eval()(torch.rand(1, 3, 16, 16))
    assert torch.equal(net.conv1.weight_u, before)
    net.train()(torch.rand(1, 3, 16, 16))
    assert not torch.equal(net.conv1.weight_u, before)
