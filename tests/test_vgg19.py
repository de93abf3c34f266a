"""srkit.api's VGG19 features for perceptual losses: layer names, where the weights come from,
and the features of named layers (before or after their activation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models.vgg import cfgs, make_layers

from srkit.api import SrkitError, VGG19Features, hub_cache_path, vgg19_layer_index
from srkit.testing import save_random_vgg19
from srkit.weights.vgg19 import VGG19_LAYERS, load_vgg19_features


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_vgg19(tmp_path_factory.mktemp("vgg") / "vgg19-random.pth")


@pytest.fixture(scope="module")
def vgg19_state(vgg19_file: Path) -> dict[str, torch.Tensor]:
    return torch.load(vgg19_file, weights_only=True)


def test_layer_names_follow_torchvision_vgg19_features() -> None:
    torchvision_features = make_layers(cfgs["E"])
    assert len(VGG19_LAYERS) == len(torchvision_features)
    for name, index in VGG19_LAYERS.items():
        kind = type(torchvision_features[index]).__name__
        assert kind == {"conv": "Conv2d", "relu": "ReLU", "pool": "MaxPool2d"}[name[:4].rstrip("0123456789_")]
    assert vgg19_layer_index("relu5_4") == 35 and vgg19_layer_index("relu2_2") == 8
    assert vgg19_layer_index("conv5_4") == 34


@pytest.mark.parametrize("layer", ["relu6_1", "pool1"])
def test_unknown_layer_lists_the_choices(layer: str) -> None:
    with pytest.raises(SrkitError, match=f"vgg layer '{layer}' is unknown .*relu5_4"):
        vgg19_layer_index(layer)


def test_whole_model_pth_file_is_loaded_ignoring_the_classifier(tmp_path: Path, vgg19_state) -> None:  # noqa: ANN001
    path = tmp_path / "vgg19-whole.pth"
    torch.save({**vgg19_state, "classifier.0.weight": torch.zeros(2, 2)}, path)
    features = load_vgg19_features(path, upto=vgg19_layer_index("relu2_2"))
    assert len(features) == 9
    torch.testing.assert_close(features[7].weight, vgg19_state["features.7.weight"])
    assert not features.training
    assert not any(p.requires_grad for p in features.parameters())


def test_safetensors_file_with_features_keys_is_loaded(tmp_path: Path, vgg19_state) -> None:  # noqa: ANN001
    path = tmp_path / "vgg19.safetensors"
    save_file({k.removeprefix("features."): v for k, v in vgg19_state.items()}, str(path))
    features = load_vgg19_features(str(path))
    torch.testing.assert_close(features[34].weight, vgg19_state["features.34.weight"])


def test_hub_cache_file_is_used_without_download(tmp_path: Path, monkeypatch,  # noqa: ANN001
                                                 vgg19_file, vgg19_state) -> None:  # noqa: ANN001
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = hub_cache_path("vgg19-dcbb9e9d.pth")
    assert cached == tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    cached.symlink_to(vgg19_file)
    features = load_vgg19_features(None, upto=3)
    torch.testing.assert_close(features[2].weight, vgg19_state["features.2.weight"])


def test_missing_weights_say_where_to_put_them_and_how_to_go_without(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(SrkitError) as info:
        VGG19Features(["relu5_4"], instead="train with --content-loss l1")
    message = str(info.value)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "download https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    assert message.endswith("or pass --vgg-weights FILE, or train with --content-loss l1")
    with pytest.raises(SrkitError, match="nothere.pth"):
        VGG19Features(["relu5_4"], tmp_path / "nothere.pth")


def test_a_file_that_is_not_vgg19_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, path)
    with pytest.raises(SrkitError, match="features.0.weight has shape"):
        VGG19Features(["relu5_4"], path)


def test_features_are_torchvisions_on_imagenet_normalised_input(vgg19_file, vgg19_state) -> None:  # noqa: ANN001
    """``conv`` layers give the feature before the activation even though torchvision's ReLUs work
    in place; the network is cut after the deepest layer asked for."""
    vgg = VGG19Features(["conv1_2", "relu2_2", "conv3_4"], vgg19_file)
    assert len(vgg.features) == vgg19_layer_index("conv3_4") + 1
    reference = make_layers(cfgs["E"])
    reference.load_state_dict({k.removeprefix("features."): v for k, v in vgg19_state.items()})
    images = torch.rand(2, 3, 24, 24)
    x = (images - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = {}
    with torch.no_grad():
        for index, layer in enumerate(reference[:17]):
            x = layer(x.clone())
            expected[index] = x
        found = vgg(images)
    assert list(found) == ["conv1_2", "relu2_2", "conv3_4"]
    for name, value in found.items():
        torch.testing.assert_close(value, expected[vgg19_layer_index(name)])
    assert bool((found["conv1_2"] < 0).any())  # before the activation: not clipped at 0


def test_features_stay_frozen_in_eval_and_pass_gradients_to_the_input(vgg19_file) -> None:  # noqa: ANN001
    vgg = VGG19Features(["relu1_2"], vgg19_file).train()
    assert not vgg.features.training
    images = torch.rand(1, 3, 16, 16, requires_grad=True)
    vgg(images)["relu1_2"].sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in vgg.parameters())


def test_no_layer_is_a_one_line_error(vgg19_file) -> None:  # noqa: ANN001
    with pytest.raises(SrkitError, match="name at least one layer"):
        VGG19Features([], vgg19_file)
