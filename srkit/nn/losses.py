"""Losses: the one kind srkit registers, ``loss(sr, hr) -> scalar``, and the core's pixel losses
(registered by the core plugin as ``l1`` and ``mse``)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from srkit.errors import SrkitError
from srkit.plugins import lookup


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


#: the images a loss is tried on when a recipe is built: big enough for VGG's five poolings
_PROBE_SHAPE = (1, 3, 32, 32)


def build_loss(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """The registered loss ``name`` on ``device``, refused in one line unless it is a loss of
    srkit's one kind: ``loss(sr, hr)`` on (N,3,H,W) batches in [0, 1] returning a scalar.

    Tried once on a small pair of images, so a loss of another kind (one on discriminator
    logits, say) fails when the recipe is built rather than training on a meaningless value.
    """
    loss = lookup("loss", name)()
    if not isinstance(loss, nn.Module):
        raise SrkitError(f"loss {name!r}: its factory returned {type(loss).__name__}, not an nn.Module")
    loss = loss.to(device)
    sr, hr = (torch.rand(_PROBE_SHAPE, generator=torch.Generator().manual_seed(seed)).to(device)
              for seed in (0, 1))
    try:
        with torch.no_grad():
            value = loss(sr, hr)
    except Exception as exc:
        first = next(iter(str(exc).splitlines()), "")
        raise SrkitError(f"loss {name!r} is not a loss(sr, hr) on image batches: calling it so raised "
                         f"{type(exc).__name__}: {first}") from None
    if not isinstance(value, Tensor) or value.numel() != 1 or not torch.isfinite(value).all():
        shown = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise SrkitError(f"loss {name!r} is not a loss(sr, hr) on image batches: it returned {shown}, "
                         "not a finite scalar")
    return loss
