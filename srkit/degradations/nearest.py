"""Nearest-neighbour downscaling (MATLAB ``imresize(..., 'nearest')``) and the BD benchmark
degradation built on it (Gaussian blur 7x7, sigma 1.6, then nearest downscaling)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from srkit.degradations.bicubic import check_hr_batch, gaussian_blur
from srkit.errors import SrkitError


def nearest_downscale(hr: Tensor, scale: int) -> Tensor:
    """MATLAB ``imresize(hr, 1/scale, 'nearest')`` of (N,C,H,W) images, H and W multiples of scale.

    MATLAB maps LR pixel i (1-based) to HR coordinate ``scale*i + (1 - scale)/2`` and rounds half
    up, so it keeps HR rows and columns ``scale//2, scale//2 + scale, ...`` (0-based), not the
    first of each block as ``F.interpolate(mode="nearest")`` does.
    """
    start = scale // 2
    return hr[..., start::scale, start::scale]


class NearestDegradation:
    """LR = nearest-neighbour downscaling of HR (no blur, no antialiasing: aliased LR).

    HR (N,C,H,W) in [0, 1] -> LR (N,C,H/scale,W/scale), every LR pixel an HR pixel.
    """

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor:
        check_hr_batch(hr, scale, "nearest degradation")
        return nearest_downscale(hr, int(scale))

    def levels(self, hr: Tensor, factors: Sequence[int], *,
               generator: torch.Generator | None = None) -> list[Tensor]:
        """Every level by nearest downscaling, so intermediate targets match the LR's kind."""
        return [self(hr, factor) for factor in factors]


class BDDegradation:
    """The "BD" benchmark degradation: Gaussian blur, then nearest-neighbour downscaling.

    As the RDN/SRMD test-set scripts define it: ``fspecial('gaussian', 7, 1.6)``, applied by
    ``imfilter(..., 'replicate')``, then ``imresize(..., 1/scale, 'nearest')``.

    Args:
        sigma: blur standard deviation in HR pixels (standard: 1.6).
        kernel_size: odd kernel size (standard: 7).
    """

    def __init__(self, sigma: float = 1.6, kernel_size: int = 7) -> None:
        if not sigma > 0:
            raise SrkitError(f"bd: sigma must be positive, got {sigma}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise SrkitError(f"bd: kernel_size must be a positive odd number, got {kernel_size}")
        self.sigma, self.kernel_size = float(sigma), int(kernel_size)

    def blur(self, hr: Tensor) -> Tensor:
        sigmas = torch.full((hr.shape[0],), self.sigma)
        return gaussian_blur(hr, sigmas, self.kernel_size, padding="replicate")

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor:
        check_hr_batch(hr, scale, "bd degradation")
        return nearest_downscale(self.blur(hr), int(scale))

    def levels(self, hr: Tensor, factors: Sequence[int], *,
               generator: torch.Generator | None = None) -> list[Tensor]:
        """Every level from the one blurred HR, each by nearest downscaling."""
        for factor in factors:
            check_hr_batch(hr, factor, "bd degradation")
        blurred = self.blur(hr)
        return [nearest_downscale(blurred, int(factor)) for factor in factors]
