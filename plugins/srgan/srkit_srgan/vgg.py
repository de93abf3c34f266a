"""VGG19 feature extractor for perceptual losses, and where its ImageNet weights come from.

The weights are torchvision's ``VGG19_Weights.IMAGENET1K_V1``. They are never downloaded here:
they are read from an explicit file or from the torch hub cache, and a missing file is a one-line
:class:`~srkit.errors.SrkitError` that says where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from srkit.errors import SrkitError

#: torchvision's file name and address of the VGG19 ImageNet weights (IMAGENET1K_V1).
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"

# Output channels of VGG19's 16 convs ("M" = 2x2 max-pool), as in torchvision's ``features``.
_VGG19_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _layer_names() -> list[str]:
    """Names of the 37 modules of ``vgg19().features``: conv1_1, relu1_1, ..., relu5_4, pool5."""
    names, block, index = [], 1, 1
    for item in _VGG19_LAYOUT:
        if item == "M":
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


def vgg19_features(upto: int | None = None) -> nn.Sequential:
    """VGG19's ``features`` with torchvision's module indices, cut after index ``upto``."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in _VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_channels, item, 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = item
    return nn.Sequential(*layers[: None if upto is None else upto + 1])


def hub_cache_path() -> Path:
    """Where torchvision keeps the VGG19 weights: ``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def missing_weights_message(path: Path) -> str:
    return (
        f"{path}: VGG19 ImageNet weights (torchvision {VGG19_FILE}) are missing; "
        f"download {VGG19_URL} and put it at that path, or pass --vgg-weights FILE, "
        "or train without VGG with --content-loss mse"
    )


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise SrkitError(missing_weights_message(path))
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's to fix, in one line
        raise SrkitError(f"{path}: cannot read VGG19 weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise SrkitError(f"{path}: expected a VGG19 state dict, got {type(state).__name__}")
    return state


def _features_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keys of ``features`` only: accepts a whole ``vgg19()`` state dict or its ``features``."""
    prefixed = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return prefixed or {k: v for k, v in state.items() if k.split(".")[0].isdigit()}


def load_vgg19_features(weights: str | os.PathLike | None = None, upto: int | None = None
                        ) -> nn.Sequential:
    """VGG19 ``features`` (cut after index ``upto``) with ImageNet weights, frozen in eval mode.

    ``weights``: a torchvision ``vgg19`` state dict (``.pth`` or ``.safetensors``; whole-model keys
    ``features.N.weight`` or ``N.weight``). Without it, the torch hub cache is read (no download).
    Expects inputs normalised with ImageNet mean/std; see :class:`srkit_srgan.losses.VGGLoss`.
    """
    path = Path(weights) if weights is not None else hub_cache_path()
    state = _features_state(_read_state_dict(path))
    features = vgg19_features(upto)
    expected = features.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise SrkitError(f"{path}: not VGG19 weights (missing features.{key})")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise SrkitError(
                f"{path}: not VGG19 weights (features.{key} has shape {tuple(state[key].shape)}, "
                f"expected {tuple(tensor.shape)})"
            )
    features.load_state_dict({k: state[k].float() for k in expected})
    features.eval()
    features.requires_grad_(False)
    return features
