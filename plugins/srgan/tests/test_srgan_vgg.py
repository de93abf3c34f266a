import pytest
import torch

from srkit.api import SrkitError, lookup
from srkit_srgan.losses import VGGLoss


@pytest.mark.parametrize("layer", ["relu2_2", "conv2_2"])
def test_vgg_loss_trains_the_input_only_and_keeps_vgg_frozen(vgg19_file, layer):
    loss_fn = lookup("loss", "vgg")(layer=layer, weights=vgg19_file, rescale=True)
    loss_fn.train()
    features = loss_fn.vgg.features
    assert not features.training
    before = {k: v.clone() for k, v in features.state_dict().items()}
    sr = torch.rand(2, 3, 24, 24, requires_grad=True)
    hr = torch.rand(2, 3, 24, 24)
    loss = loss_fn(sr, hr)
    loss.backward()
    assert loss.item() > 0 and sr.grad is not None and sr.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in features.parameters())
    assert all(torch.equal(v, before[k]) for k, v in features.state_dict().items())
    assert loss_fn(hr, hr).item() == 0


def test_vgg_loss_rescaling_and_distance(vgg19_file):
    sr, hr = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    plain = VGGLoss("relu1_2", vgg19_file)(sr, hr)
    rescaled = VGGLoss("relu1_2", vgg19_file, rescale=True)(sr, hr)
    torch.testing.assert_close(rescaled, plain / 12.75**2)
    l1 = VGGLoss("relu1_2", vgg19_file, distance="l1")(sr, hr)
    assert l1.item() > 0 and not torch.isclose(l1, plain)


def test_missing_vgg_weights_say_how_srgan_trains_without(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(SrkitError, match="--vgg-weights FILE, or train without VGG with --content-loss mse"):
        VGGLoss()
