import pytest
import torch
from safetensors.torch import save_file
from torchvision.models.vgg import cfgs, make_layers

from srkit.api import SrkitError, lookup
from srkit_srgan.losses import VGGLoss
from srkit_srgan.vgg import VGG19_LAYERS, hub_cache_path, layer_index, load_vgg19_features


def test_layer_names_follow_torchvision_vgg19_features():
    torchvision_features = make_layers(cfgs["E"])
    assert len(VGG19_LAYERS) == len(torchvision_features)
    for name, index in VGG19_LAYERS.items():
        kind = type(torchvision_features[index]).__name__
        assert kind == {"conv": "Conv2d", "relu": "ReLU", "pool": "MaxPool2d"}[name[:4].rstrip("0123456789_")]
    assert layer_index("relu5_4") == 35 and layer_index("relu2_2") == 8 and layer_index("conv5_4") == 34


def test_unknown_layer_lists_the_choices():
    with pytest.raises(SrkitError, match="relu5_4"):
        layer_index("relu6_1")


def test_explicit_pth_file_with_whole_model_keys_is_loaded(vgg19_file, vgg19_state):
    features = load_vgg19_features(vgg19_file, upto=layer_index("relu2_2"))
    assert len(features) == 9
    torch.testing.assert_close(features[7].weight, vgg19_state["features.7.weight"])
    assert not features.training
    assert not any(p.requires_grad for p in features.parameters())


def test_explicit_safetensors_file_with_features_keys_is_loaded(tmp_path, vgg19_state):
    path = tmp_path / "vgg19.safetensors"
    save_file({k[len("features."):]: v for k, v in vgg19_state.items() if k.startswith("features.")},
              str(path))
    features = load_vgg19_features(str(path))
    torch.testing.assert_close(features[34].weight, vgg19_state["features.34.weight"])


def test_hub_cache_file_is_used_without_download(tmp_path, monkeypatch, vgg19_file, vgg19_state):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = hub_cache_path()
    assert cached == tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    cached.symlink_to(vgg19_file)
    features = load_vgg19_features(None, upto=3)
    torch.testing.assert_close(features[2].weight, vgg19_state["features.2.weight"])


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(SrkitError) as info:
        load_vgg19_features(None)
    message = str(info.value)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "--vgg-weights FILE" in message and "--content-loss mse" in message
    with pytest.raises(SrkitError, match="nothere.pth"):
        load_vgg19_features(tmp_path / "nothere.pth")


def test_a_file_that_is_not_vgg19_is_named(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, path)
    with pytest.raises(SrkitError, match="features.0.weight has shape"):
        load_vgg19_features(path)


@pytest.mark.parametrize("layer", ["relu2_2", "conv2_2"])
def test_vgg_loss_trains_the_input_only_and_keeps_vgg_frozen(vgg19_file, layer):
    loss_fn = lookup("loss", "vgg")(layer=layer, weights=vgg19_file, rescale=True)
    loss_fn.train()
    assert not loss_fn.features.training
    before = {k: v.clone() for k, v in loss_fn.features.state_dict().items()}
    sr = torch.rand(2, 3, 24, 24, requires_grad=True)
    hr = torch.rand(2, 3, 24, 24)
    loss = loss_fn(sr, hr)
    loss.backward()
    assert loss.item() > 0 and sr.grad is not None and sr.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss_fn.features.parameters())
    assert all(torch.equal(v, before[k]) for k, v in loss_fn.features.state_dict().items())
    assert loss_fn(hr, hr).item() == 0


def test_vgg_loss_rescaling_and_distance(vgg19_file):
    sr, hr = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    plain = VGGLoss("relu1_2", vgg19_file)(sr, hr)
    rescaled = VGGLoss("relu1_2", vgg19_file, rescale=True)(sr, hr)
    torch.testing.assert_close(rescaled, plain / 12.75**2)
    l1 = VGGLoss("relu1_2", vgg19_file, distance="l1")(sr, hr)
    assert l1.item() > 0 and not torch.isclose(l1, plain)
