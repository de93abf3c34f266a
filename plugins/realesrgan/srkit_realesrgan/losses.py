"""ESRGAN's multi-layer VGG19 perceptual loss, as Real-ESRGAN's training options set it.

The VGG19 ImageNet weights are read by srkit's :class:`~srkit.api.VGG19Features` (a file, or
torchvision's file in the torch hub cache, never downloaded); a missing file is its one-line error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from srkit.api import SrkitError, VGG19Features, vgg19_layer_index

#: Real-ESRGAN's ``perceptual_opt.layer_weights`` (options/train_realesrgan_x4plus.yml): features
#: before the activation, the first two layers down-weighted.
REALESRGAN_LAYER_WEIGHTS: dict[str, float] = {
    "conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0,
}


def parse_layer_weights(text: str) -> dict[str, float]:
    """``"conv1_2=0.1,conv5_4=1"`` -> ``{"conv1_2": 0.1, "conv5_4": 1.0}`` (a one-line error if malformed)."""
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise SrkitError(f"perceptual layers: {item!r} is not LAYER=WEIGHT (e.g. conv5_4=1)") from None
    if not weights:
        raise SrkitError("perceptual layers: give at least one LAYER=WEIGHT")
    for name in weights:
        vgg19_layer_index(name)  # an unknown layer is a one-line error naming the choices
    return weights


class PerceptualLoss(nn.Module):
    """Weighted sum over VGG19 layers of the L1 distance between SR and HR features -> scalar.

    Args:
        layer_weights: VGG19 layer name -> weight (default: Real-ESRGAN's, conv1_2..conv5_4
            weighted 0.1/0.1/1/1/1); ``convX_Y`` is the feature before its activation.
        weights: VGG19 state-dict file; ``None`` reads torchvision's file from the hub cache.

    Inputs (N, 3, H, W) in [0, 1] are normalised with the ImageNet mean and std, as BasicSR's
    ``use_input_norm: true, range_norm: false``. VGG is frozen and stays in eval mode; gradients
    flow into the SR input only. Distances are taken in float32.
    """

    def __init__(self, layer_weights: Mapping[str, float] | None = None,
                 weights: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.layer_weights = dict(REALESRGAN_LAYER_WEIGHTS if layer_weights is None else layer_weights)
        self.vgg = VGG19Features(self.layer_weights, weights,
                                 instead="train without the perceptual term with --content-loss l1")

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        sr_features = self.vgg(sr)
        with torch.no_grad():
            hr_features = self.vgg(hr.detach())
        total = sr.new_zeros((), dtype=torch.float32)
        for name, weight in self.layer_weights.items():
            total = total + weight * F.l1_loss(sr_features[name].float(), hr_features[name].float())
        return total
