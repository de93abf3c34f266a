"""VGG19 feature extractor for perceptual losses, and where its ImageNet weights come from.

The network is torchvision's ``vgg19().features``; the weights are torchvision's
``VGG19_Weights.IMAGENET1K_V1``. They are never downloaded here: they are read from an explicit
file or from the torch hub cache (:mod:`srkit.weights.pretrained`), and a missing file is a one-line
:class:`~srkit.errors.SrkitError` that says where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from srkit.api import SrkitError, load_features, read_pretrained_state
from srkit.api import hub_cache_path as _hub_cache_path

#: torchvision's file name and address of the VGG19 ImageNet weights (IMAGENET1K_V1).
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"


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


def layer_index(layer: str) -> int:
    """Index of ``layer`` (e.g. ``relu5_4``, the paper's VGG54; ``conv5_4`` before activation)."""
    if layer not in VGG19_LAYERS or layer.startswith("pool"):
        choices = ", ".join(n for n in VGG19_LAYERS if not n.startswith("pool"))
        raise SrkitError(f"vgg layer {layer!r} is unknown (choose one of: {choices})")
    return VGG19_LAYERS[layer]


def hub_cache_path() -> Path:
    """Where torchvision keeps the VGG19 weights: ``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``."""
    return _hub_cache_path(VGG19_FILE)


def missing_weights_message(path: Path) -> str:
    return (
        f"{path}: VGG19 ImageNet weights (torchvision {VGG19_FILE}) are missing; "
        f"download {VGG19_URL} and put it at that path, or pass --vgg-weights FILE, "
        "or train without VGG with --content-loss mse"
    )


def _features_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keys of ``features`` only: accepts a whole ``vgg19()`` state dict or its ``features``."""
    prefixed = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return prefixed or {k: v for k, v in state.items() if k.split(".")[0].isdigit()}


def load_vgg19_features(weights: str | os.PathLike[str] | None = None, upto: int | None = None
                        ) -> nn.Sequential:
    """VGG19 ``features`` (cut after index ``upto``) with ImageNet weights, frozen in eval mode.

    ``weights``: a torchvision ``vgg19`` state dict (``.pth`` or ``.safetensors``; whole-model keys
    ``features.N.weight`` or ``N.weight``). Without it, the torch hub cache is read (no download).
    Expects inputs normalised with ImageNet mean/std; see :class:`srkit_srgan.losses.VGGLoss`.
    """
    path = Path(weights) if weights is not None else hub_cache_path()
    state = read_pretrained_state(path, "VGG19", missing=SrkitError(missing_weights_message(path)))
    features = vgg19_features(upto)
    load_features(features, {f"features.{k}": v for k, v in _features_state(state).items()},
                  path, "VGG19", lambda key: f"features.{key}")
    features.eval()
    features.requires_grad_(False)
    return features
