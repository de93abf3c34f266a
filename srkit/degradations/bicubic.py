"""The classic SR degradations: MATLAB bicubic downscaling, optionally after a Gaussian blur."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from srkit.degradations.imresize import imresize
from srkit.errors import SrkitError


def check_hr_batch(hr: Tensor, scale: int, name: str, *, rgb: bool = False) -> tuple[int, int]:
    """The LR size ``(H/scale, W/scale)`` of an HR batch (N,C,H,W), or a one-line error naming the
    degradation ``name`` (``rgb``: C must be 3). Shared by every degradation."""
    channels = "3" if rgb else "C"
    if hr.dim() != 4 or (rgb and hr.shape[1] != 3):
        raise SrkitError(f"{name}: expected HR images (N,{channels},H,W), got shape {tuple(hr.shape)}")
    if int(scale) != scale or scale < 1:
        raise SrkitError(f"{name}: scale must be a positive integer, got {scale}")
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise SrkitError(f"{name}: HR size {h}x{w} is not a multiple of scale {scale}")
    return h // int(scale), w // int(scale)


def bicubic_downscale(hr: Tensor, scale: int) -> Tensor:
    """MATLAB ``imresize(hr, 1/scale)`` of (N,C,H,W) images whose H, W are multiples of scale."""
    h, w = hr.shape[-2:]
    return imresize(hr, size=(h // scale, w // scale))


class BicubicDegradation:
    """LR = MATLAB bicubic downscaling (antialiased) of HR; deterministic, not clamped.

    HR (N,3,H,W) in [0, 1] -> LR (N,3,H/scale,W/scale); values may overshoot [0, 1] slightly.
    """

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor:
        check_hr_batch(hr, scale, "bicubic degradation")
        return bicubic_downscale(hr, int(scale))


def gaussian_kernels(sigmas: Tensor, size: int) -> Tensor:
    """Normalised 1-D Gaussian kernels, one per sigma: (N,) -> (N, size)."""
    x = torch.arange(size, dtype=sigmas.dtype, device=sigmas.device) - (size - 1) / 2
    kernels = torch.exp(-(x[None, :] ** 2) / (2 * sigmas[:, None] ** 2))
    return kernels / kernels.sum(dim=1, keepdim=True)


def gaussian_blur(images: Tensor, sigmas: Tensor, size: int, padding: str = "reflect") -> Tensor:
    """Blur each image of (N,C,H,W) with its own isotropic Gaussian.

    ``padding`` is ``F.pad``'s mode at the borders: ``reflect`` (default) or ``replicate``
    (MATLAB ``imfilter(..., 'replicate')``, what the BD benchmarks use).
    """
    n, c, h, w = images.shape
    radius = size // 2
    if radius >= min(h, w):
        raise SrkitError(f"blur: {h}x{w} images are too small for a {size}x{size} kernel")
    kernels = gaussian_kernels(sigmas.to(images.device, torch.float32), size)
    kernels = kernels.to(images.dtype).repeat_interleave(c, dim=0)  # (N*C, size)
    planes = images.reshape(1, n * c, h, w)
    planes = F.pad(planes, (radius, radius, radius, radius), mode=padding)
    planes = F.conv2d(planes, kernels.view(n * c, 1, size, 1), groups=n * c)
    planes = F.conv2d(planes, kernels.view(n * c, 1, 1, size), groups=n * c)
    return planes.reshape(n, c, h, w)


class BlurBicubicDegradation:
    """LR = bicubic downscaling of a Gaussian-blurred HR (the "BD"-style degradation).

    Args:
        sigma: blur standard deviation in HR pixels (used when ``sigma_range`` is None).
        kernel_size: odd kernel size; default ``2 * ceil(3 * max_sigma) + 1``.
        sigma_range: ``(low, high)``: draw each image's sigma uniformly from this range
            using the ``generator`` passed to ``__call__`` (deterministic given its seed).
    """

    def __init__(
        self,
        sigma: float = 1.5,
        kernel_size: int | None = None,
        sigma_range: Sequence[float] | None = None,
    ) -> None:
        if sigma_range is not None:
            if len(sigma_range) != 2 or not 0 < sigma_range[0] <= sigma_range[1]:
                raise SrkitError(
                    f"blur-bicubic: sigma_range must be (low, high) with 0 < low <= high, got {sigma_range}"
                )
            sigma_range = (float(sigma_range[0]), float(sigma_range[1]))
        elif not sigma > 0:
            raise SrkitError(f"blur-bicubic: sigma must be positive, got {sigma}")
        largest = sigma_range[1] if sigma_range else sigma
        if kernel_size is None:
            kernel_size = 2 * math.ceil(3 * largest) + 1
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise SrkitError(f"blur-bicubic: kernel_size must be a positive odd number, got {kernel_size}")
        self.sigma = float(sigma)
        self.kernel_size = int(kernel_size)
        self.sigma_range = sigma_range

    def sample_sigmas(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Blur sigma of each of ``n`` images (float32, on the generator's device)."""
        if self.sigma_range is None:
            return torch.full((n,), self.sigma)
        device = generator.device if generator is not None else torch.device("cpu")
        low, high = self.sigma_range
        return low + (high - low) * torch.rand(n, generator=generator, device=device)

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor:
        check_hr_batch(hr, scale, "blur-bicubic degradation")
        sigmas = self.sample_sigmas(hr.shape[0], generator)
        return bicubic_downscale(gaussian_blur(hr, sigmas, self.kernel_size), int(scale))

    def levels(self, hr: Tensor, factors: Sequence[int], *,
               generator: torch.Generator | None = None) -> list[Tensor]:
        """LR at each factor from one blurred HR (one sigma per image for all levels), for recipes
        that supervise several scales from one random draw."""
        for factor in factors:
            check_hr_batch(hr, factor, "blur-bicubic degradation")
        blurred = gaussian_blur(hr, self.sample_sigmas(hr.shape[0], generator), self.kernel_size)
        return [bicubic_downscale(blurred, int(factor)) for factor in factors]
