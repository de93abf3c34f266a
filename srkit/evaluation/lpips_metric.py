"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, with no download and no random backbone.

The ``lpips`` package ships its small linear heads (``lpips/weights/v0.1/<net>.pth``) but fetches
the ImageNet backbone from the internet through torchvision. srkit builds the backbone with
random weights (``pnet_rand=True``, so nothing is fetched) and then loads the torchvision file
itself from the torch hub cache, checking it exists first. Without that file LPIPS is
*unavailable*: a score from a random backbone would look like a number and mean nothing.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from srkit.errors import SrkitError
from srkit.weights.pretrained import hub_cache_path, load_features, read_pretrained_state

#: LPIPS backbone -> (its name in messages, the torchvision checkpoint file name)
BACKBONES: dict[str, tuple[str, str]] = {
    "alex": ("AlexNet", "alexnet-owt-7be5be79.pth"),
    "vgg": ("VGG16", "vgg16-397923af.pth"),
}


class LpipsUnavailable(SrkitError):
    """LPIPS cannot be computed honestly here (the backbone's ImageNet weights are missing)."""


def default_backbone_path(net: str) -> Path:
    """Where torchvision keeps the backbone's ImageNet weights: ``$TORCH_HOME/hub/checkpoints``."""
    return hub_cache_path(_backbone(net)[1])


def _backbone(net: str) -> tuple[str, str]:
    try:
        return BACKBONES[net]
    except KeyError:
        raise SrkitError(f"LPIPS network {net!r}: expected one of {', '.join(BACKBONES)}") from None


class Lpips(nn.Module):
    """LPIPS distance of image batches: lower is more similar, 0 for identical images.

    ``forward(sr, hr)``: (N,3,H,W) RGB in [0, 1] each -> (N,) float32 distances.
    """

    def __init__(self, model: nn.Module, net: str) -> None:
        super().__init__()
        self.model = model
        self.net = net

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        with torch.no_grad():
            # the lpips package expects RGB in [-1, 1]
            distance = self.model(sr.float() * 2 - 1, hr.float() * 2 - 1, normalize=False)
        return distance.flatten().float()


def load_lpips(net: str = "alex", *, weights: str | os.PathLike[str] | None = None,
               device: str | torch.device = "cpu") -> Lpips:
    """LPIPS with ImageNet backbone weights read from ``weights`` (default: the torch hub cache).

    Raises :class:`LpipsUnavailable` (one line: why, and where the file is expected) when the
    backbone file does not exist, and :class:`SrkitError` when it is not a torchvision state dict.
    """
    display, _ = _backbone(net)
    path = Path(weights) if weights is not None else default_backbone_path(net)
    missing = LpipsUnavailable(
        f"{display} ImageNet weights not found at {path} (copy the torchvision file there, "
        "or pass --lpips-weights FILE)"
    )
    state = read_pretrained_state(path, display, missing=missing)
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation inside lpips
        model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    # lpips names each backbone layer ``slice<k>.<i>.<param>`` by its index in ``features``
    load_features(model.net, state, path, display,
                  lambda key: "features.{}.{}".format(*key.split(".")[1:]))
    return Lpips(model, net).to(device).eval()
