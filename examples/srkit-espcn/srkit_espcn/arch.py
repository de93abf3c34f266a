"""ESPCN (Shi et al., CVPR 2016): two convolutions in LR space, then one sub-pixel convolution.

    conv 5x5, 64, tanh -> conv 3x3, 32, tanh -> conv 3x3, C*r^2 -> PixelShuffle(r)

The paper super-resolves the luma (Y of YCbCr) only and upscales the chroma with bicubic
interpolation. srkit models map RGB to RGB, so ``color="rgb"`` (the default) runs the same
layers on the three RGB channels; ``color="y"`` is the paper's set-up, kept so that published
Y-channel checkpoints can be converted and compared.
"""

from __future__ import annotations

import torch
from srkit.api import SrkitError
from torch import Tensor, nn
from torch.nn import functional as F

COLORS = ("rgb", "y")

# ITU-R BT.601 studio-swing RGB [0,1] -> YCbCr [0,1] (MATLAB rgb2ycbcr / 255), as the paper's
# evaluation uses. Rows: Y, Cb, Cr.
_RGB_TO_YCBCR = torch.tensor([[65.481, 128.553, 24.966],
                              [-37.797, -74.203, 112.0],
                              [112.0, -93.786, -18.214]], dtype=torch.float64) / 255
_YCBCR_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255


class ESPCN(nn.Module):
    """LR (N,3,h,w) RGB in [0,1] -> SR (N,3,h*scale,w*scale), not clamped.

    Args:
        scale: upscaling factor r (any integer >= 1; the paper uses 2, 3 and 4).
        color: ``"rgb"`` (3 channels in and out) or ``"y"`` (luma through the network,
            chroma by bicubic interpolation, as in the paper).
        features: widths of the two hidden layers; the paper's are (64, 32).
    """

    def __init__(self, scale: int = 3, color: str = "rgb", features: tuple[int, int] = (64, 32)
                 ) -> None:
        super().__init__()
        if int(scale) != scale or scale < 1:
            raise SrkitError(f"espcn: scale must be a positive integer, got {scale}")
        if color not in COLORS:
            raise SrkitError(f"espcn: color must be one of {', '.join(COLORS)}, got {color!r}")
        self.scale, self.color = int(scale), color
        channels = 3 if color == "rgb" else 1
        n1, n2 = features
        self.features = nn.Sequential(
            nn.Conv2d(channels, n1, 5, padding=2), nn.Tanh(),
            nn.Conv2d(n1, n2, 3, padding=1), nn.Tanh(),
        )
        self.upsample = nn.Sequential(
            nn.Conv2d(n2, channels * self.scale**2, 3, padding=1),
            nn.PixelShuffle(self.scale),
        )

    def forward(self, lr: Tensor) -> Tensor:
        if self.color == "rgb":
            return self.upsample(self.features(lr))
        ycbcr = rgb_to_ycbcr(lr)
        y = self.upsample(self.features(ycbcr[:, :1]))
        cbcr = F.interpolate(ycbcr[:, 1:], scale_factor=self.scale, mode="bicubic",
                             align_corners=False)
        return ycbcr_to_rgb(torch.cat([y, cbcr], dim=1))

    def extra_repr(self) -> str:
        return f"scale={self.scale}, color={self.color!r}"


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """(N,3,H,W) RGB in [0,1] -> YCbCr with Y in [16,235]/255 and Cb, Cr in [16,240]/255."""
    matrix = _RGB_TO_YCBCR.to(rgb.device, rgb.dtype)
    return torch.einsum("ij,njhw->nihw", matrix, rgb) + _YCBCR_OFFSET.to(rgb).view(1, 3, 1, 1)


def ycbcr_to_rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    inverse = torch.linalg.inv(_RGB_TO_YCBCR).to(ycbcr.device, ycbcr.dtype)
    return torch.einsum("ij,njhw->nihw", inverse, ycbcr - _YCBCR_OFFSET.to(ycbcr).view(1, 3, 1, 1))
