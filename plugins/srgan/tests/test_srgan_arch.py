import pytest
import torch

from srkit.api import SrkitError, build_discriminator, build_generator
from srkit_srgan.arch import SRGANDiscriminator, SRResNet


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_upscales_by_its_scale_into_unit_range(scale):
    net = build_generator("srresnet", scale=scale, channels=8, blocks=2)
    sr = net(torch.rand(2, 3, 6, 5))
    assert net.scale == scale
    assert sr.shape == (2, 3, 6 * scale, 5 * scale)
    assert sr.min() >= 0 and sr.max() <= 1


def test_srresnet_has_the_papers_layout_by_default():
    net = SRResNet()
    assert len(net.blocks) == 16 and len(net.upsample) == 2
    assert net.head.conv.kernel_size == (9, 9) and net.tail.kernel_size == (9, 9)
    assert net.upsample[0].conv.out_channels == 256
    assert net.blocks[0].conv1.bias is None  # BN follows, as in the reference


def test_srresnet_rejects_scales_without_a_pixelshuffle_layout():
    with pytest.raises(SrkitError, match="scale 3"):
        SRResNet(scale=3)


def test_discriminator_gives_one_logit_per_96px_crop_with_paper_dense_layer():
    net = build_discriminator("srgan-d")
    assert net.fc1.in_features == 512 * 6 * 6
    tiny = SRGANDiscriminator(crop_size=96, channels=8)
    assert tiny(torch.rand(3, 3, 96, 96)).shape == (3, 1)


def test_discriminator_dense_layer_follows_other_crop_sizes():
    net = SRGANDiscriminator(crop_size=128, channels=8)
    assert net.fc1.in_features == 64 * 8 * 8
    assert net(torch.rand(2, 3, 128, 128)).shape == (2, 1)


@pytest.mark.parametrize("size", [40, 96, 100])
def test_discriminator_without_crop_size_pools_any_size(size):
    net = SRGANDiscriminator(crop_size=None, channels=8)
    assert net(torch.rand(2, 3, size, size)).shape == (2, 1)


def test_discriminator_explains_a_crop_it_was_not_built_for():
    with pytest.raises(SrkitError, match="96x96"):
        SRGANDiscriminator(crop_size=96, channels=8)(torch.rand(1, 3, 64, 64))
    with pytest.raises(SrkitError, match="multiple of 16"):
        SRGANDiscriminator(crop_size=50)


def test_discriminator_has_bn_on_all_convs_but_the_first():
    net = SRGANDiscriminator(channels=8)
    has_bn = [isinstance(b.bn, torch.nn.BatchNorm2d) for b in net.blocks]
    assert has_bn == [False] + [True] * 7
    assert [b.conv.stride[0] for b in net.blocks] == [1, 2] * 4
