"""Pixel losses every recipe can use (registered by the core plugin as ``l1`` and ``mse``)."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


class PixelLoss(nn.Module):
    """Mean absolute (``l1``) or squared (``mse``) error between SR and HR batches in [0, 1]."""

    def __init__(self, kind: str = "l1") -> None:
        super().__init__()
        if kind not in ("l1", "mse"):
            raise ValueError(f"unknown pixel loss {kind!r}")
        self.kind = kind

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        return F.l1_loss(sr, hr) if self.kind == "l1" else F.mse_loss(sr, hr)


def l1_loss() -> PixelLoss:
    return PixelLoss("l1")


def mse_loss() -> PixelLoss:
    return PixelLoss("mse")
