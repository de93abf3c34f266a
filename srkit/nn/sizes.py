"""Running a generator on any input size: padding to the sides its facts require, cropping back."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from torch import Tensor, nn
from torch.nn import functional as F

from srkit.interfaces import SizeRequirements, generator_facts
from srkit.nn.models import unwrap

Forward = Callable[[Tensor], Tensor]


def fitted(forward: Forward, size: SizeRequirements, scale: int) -> Forward:
    """``forward`` on inputs padded to sides ``size`` accepts, its output cropped back to h*s x w*s.

    Padding mirrors the image (``reflect``) where it is smaller than the image, else repeats the
    edge, so the border pixels the crop keeps see natural context.
    """
    if size == SizeRequirements():
        return forward

    def forward_fitted(lr: Tensor) -> Tensor:
        height, width = lr.shape[-2:]
        pad_h, pad_w = size.padding(height), size.padding(width)
        if not (pad_h or pad_w):
            return forward(lr)
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        sr = forward(F.pad(lr, (0, pad_w, 0, pad_h), mode=mode))
        return sr[..., : height * scale, : width * scale]

    return forward_fitted


def fitted_model(model: nn.Module) -> Forward:
    """The model as a function that accepts any LR size (its declared size needs met by padding)."""
    return fitted(model, generator_facts(model).size, int(cast(int, unwrap(model).scale)))
