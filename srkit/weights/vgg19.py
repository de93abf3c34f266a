"""VGG19 features for perceptual losses: torchvision's ``vgg19().features`` with its ImageNet
weights, frozen, fed ImageNet-normalised images, giving the features of named layers.

The weights (torchvision's ``VGG19_Weights.IMAGENET1K_V1``) are never downloaded: they are read
from an explicit file or from the torch hub cache (:mod:`srkit.weights.pretrained`), and a
missing file is a one-line :class:`~srkit.errors.SrkitError` that says where to put it. SRGAN's
single-layer loss and ESRGAN's multi-layer one are both built on :class:`VGG19Features`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from srkit.errors import SrkitError
from srkit.weights.pretrained import hub_cache_path, load_features, read_pretrained_state

#: torchvision's file name and address of the VGG19 ImageNet weights (IMAGENET1K_V1).
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"
#: the ImageNet statistics torchvision's VGG19 was trained with (RGB, inputs in [0, 1])
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Channels of each 3x3 conv of VGG19, "M" for a 2x2 max-pool (torchvision's configuration "E").
_VGG19_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
               512, 512, 512, 512, "M")


def _layer_names() -> list[str]:
    """Names of the modules of ``vgg19().features``: conv1_1, relu1_1, ..., relu5_4, pool5.

    Read from the plan rather than a built network, so naming a layer never imports torchvision.
    """
    names, block, index = [], 1, 1
    for step in _VGG19_PLAN:
        if step == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return names


#: layer name -> index in ``vgg19().features``; "convX_Y" is the "before activation" variant.
VGG19_LAYERS: dict[str, int] = {name: i for i, name in enumerate(_layer_names())}


def vgg19_layer_index(layer: str) -> int:
    """Index in ``vgg19().features`` of ``layer`` (``relu5_4``: SRGAN's VGG54; ``conv5_4``: the
    same feature before its activation); an unknown name is a one-line error listing the choices."""
    if layer not in VGG19_LAYERS or layer.startswith("pool"):
        choices = ", ".join(n for n in VGG19_LAYERS if not n.startswith("pool"))
        raise SrkitError(f"vgg layer {layer!r} is unknown (choose one of: {choices})")
    return VGG19_LAYERS[layer]


def vgg19_features(upto: int | None = None) -> nn.Sequential:
    """torchvision's ``vgg19().features`` cut after index ``upto``, weights not yet loaded.

    Built on the meta device (the 100M-parameter classifier is never allocated), then given
    uninitialised CPU storage for :func:`load_vgg19_features` to fill.
    """
    from torchvision.models import vgg19  # torchvision pulls in torch._dynamo: ~1-2 s, only when VGG is built

    with torch.device("meta"):
        features = vgg19(weights=None).features
    if upto is not None:
        features = features[: upto + 1]
    return features.to_empty(device="cpu")


def missing_weights_message(path: Path, instead: str = "") -> str:
    """What to do about a missing VGG19 file; ``instead`` names the recipe's way to go without."""
    message = (f"{path}: VGG19 ImageNet weights (torchvision {VGG19_FILE}) are missing; "
               f"download {VGG19_URL} and put it at that path, or pass --vgg-weights FILE")
    return f"{message}, or {instead}" if instead else message


def _features_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keys of ``features`` only: accepts a whole ``vgg19()`` state dict or its ``features``."""
    prefixed = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return prefixed or {k: v for k, v in state.items() if k.split(".")[0].isdigit()}


def load_vgg19_features(weights: str | os.PathLike[str] | None = None, upto: int | None = None,
                        instead: str = "") -> nn.Sequential:
    """VGG19 ``features`` (cut after index ``upto``) with ImageNet weights, frozen in eval mode.

    ``weights``: a torchvision ``vgg19`` state dict (``.pth`` or ``.safetensors``; whole-model keys
    ``features.N.weight`` or ``N.weight``). Without it, the torch hub cache is read (no download).
    ``instead`` ends the missing-file error (e.g. ``"train without VGG with --content-loss l1"``).
    """
    path = Path(weights) if weights is not None else hub_cache_path(VGG19_FILE)
    state = read_pretrained_state(path, "VGG19", missing=SrkitError(missing_weights_message(path, instead)))
    features = vgg19_features(upto)
    load_features(features, {f"features.{k}": v for k, v in _features_state(state).items()},
                  path, "VGG19", lambda key: f"features.{key}")
    features.eval()
    features.requires_grad_(False)
    return features


class VGG19Features(nn.Module):
    """Frozen VGG19 (ImageNet weights): (N, 3, H, W) images in [0, 1] -> {layer: features}.

    Args:
        layers: the VGG19 layers to return, e.g. ``("relu5_4",)`` or ``("conv1_2", "conv5_4")``
            (``convX_Y`` is the feature before its activation); an unknown one is a one-line error.
        weights: VGG19 state-dict file; ``None`` reads torchvision's file from the hub cache.
        instead: how the caller's recipe trains without VGG, said when the file is missing.

    Inputs are normalised with the ImageNet mean and std (BasicSR's ``use_input_norm: true,
    range_norm: false``). The network stays in eval mode whatever ``.train()`` is called with and
    its weights never take gradients; gradients flow into the input. It runs under the caller's
    autocast.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, layers: Iterable[str], weights: str | os.PathLike[str] | None = None,
                 instead: str = "") -> None:
        super().__init__()
        self.indices = {name: vgg19_layer_index(name) for name in layers}
        if not self.indices:
            raise SrkitError("vgg features: name at least one layer")
        self.features = load_vgg19_features(weights, upto=max(self.indices.values()), instead=instead)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> VGG19Features:
        super().train(mode)
        self.features.eval()  # a frozen feature extractor: eval whatever mode its owner is in
        return self

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        wanted = {index: name for name, index in self.indices.items()}
        found = {}
        x = (images - self.mean) / self.std
        for index, layer in enumerate(self.features):
            # torchvision's ReLUs are in place: they would overwrite a pre-activation feature kept
            x = F.relu(x) if isinstance(layer, nn.ReLU) else layer(x)
            if index in wanted:
                found[wanted[index]] = x
        return found
