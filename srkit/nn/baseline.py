"""The bicubic baseline: the number every SR table starts from, as a parameter-free generator."""

from __future__ import annotations

from torch import Tensor, nn

from srkit.degradations.imresize import imresize
from srkit.errors import SrkitError


class BicubicUpsampler(nn.Module):
    """MATLAB ``imresize(lr, scale, 'bicubic')`` as a :class:`srkit.interfaces.Generator`.

    LR (N,3,h,w) in [0, 1] -> SR (N,3,h*scale,w*scale), not clamped. Has no parameters.
    """

    #: built from the scale alone: ``srkit bench`` and ``srkit upscale`` need no weights file
    parameter_free = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        if int(scale) != scale or scale < 1:
            raise SrkitError(f"bicubic: scale must be a positive integer, got {scale}")
        self.scale = int(scale)

    def forward(self, lr: Tensor) -> Tensor:
        h, w = lr.shape[-2:]
        return imresize(lr, size=(h * self.scale, w * self.scale))

    def extra_repr(self) -> str:
        return f"scale={self.scale}"
