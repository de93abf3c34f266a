"""Drawing one stage's random parameters for a batch, only from a ``torch.Generator``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from srkit_realistic.ops import RESIZE_MODES
from srkit_realistic.ranges import (
    KERNEL_FAMILIES,
    SINC_CUTOFF_LARGE,
    SINC_CUTOFF_SMALL,
    SINC_LARGE_FROM,
    FinalRanges,
    StageRanges,
)


@dataclass
class StageDraw:
    """One stage's parameters: per image (tensors of length N) and per batch (resize)."""

    blur: Tensor  # bool: whether the image is blurred
    shape: list[str]
    sigma_x: Tensor
    sigma_y: Tensor
    theta: Tensor  # radians
    beta: Tensor
    kernel_size: Tensor  # odd ints
    resize_factor: float  # one per batch (images of a batch keep one size)
    resize_mode: str
    gaussian: Tensor  # bool: Gaussian (else Poisson) noise
    noise_sigma: Tensor  # 8-bit levels
    poisson_scale: Tensor
    grey: Tensor  # bool: luminance-only noise
    jpeg_quality: Tensor  # ints
    sinc: Tensor  # bool: the blur kernel is a sinc filter (same size) instead of ``shape``
    sinc_cutoff: Tensor  # radians per pixel


@dataclass
class FinalDraw:
    """The last step of the second-order model, for a batch."""

    sinc: Tensor  # bool, per image: apply the final sinc filter
    sinc_cutoff: Tensor
    kernel_size: Tensor  # odd ints, per image
    resize_mode: str  # of the resize to the LR size
    jpeg_first: bool  # JPEG, then resize + sinc (else resize + sinc, then JPEG)


def _uniform(low: float, high: float, n: int, generator: torch.Generator | None, device) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _choice(probs: tuple[float, ...], n: int, generator: torch.Generator | None, device) -> Tensor:
    return torch.multinomial(torch.tensor(probs, device=device), n, replacement=True, generator=generator)


def draw_stage(ranges: StageRanges, n: int, generator: torch.Generator | None) -> StageDraw:
    """Parameters of ``n`` images, on the generator's device (CPU without one)."""
    device = generator.device if generator is not None else torch.device("cpu")
    family = _choice(tuple(p for *_, p in KERNEL_FAMILIES), n, generator, device).tolist()
    shape = [KERNEL_FAMILIES[i][0] for i in family]
    isotropic = torch.tensor([KERNEL_FAMILIES[i][1] for i in family], device=device)
    sigma_x = _uniform(*ranges.sigma, n, generator, device)
    sigma_y = torch.where(isotropic, sigma_x, _uniform(*ranges.sigma, n, generator, device))
    theta = torch.where(isotropic, torch.zeros(n, device=device),
                        _uniform(-math.pi, math.pi, n, generator, device))
    generalized = torch.tensor([s == "generalized" for s in shape], device=device)
    beta = torch.where(generalized, _uniform(*ranges.beta_generalized, n, generator, device),
                       _uniform(*ranges.beta_plateau, n, generator, device))
    low, high = ranges.kernel_sizes
    odd = torch.randint(low // 2, high // 2 + 1, (n,), generator=generator, device=device)
    direction = int(_choice(ranges.resize_probs, 1, generator, device))
    factor = float(_uniform(1.0, ranges.resize_scale[1], 1, generator, device)) if direction == 0 else (
        float(_uniform(ranges.resize_scale[0], 1.0, 1, generator, device)) if direction == 1 else 1.0)
    mode = RESIZE_MODES[int(torch.randint(len(RESIZE_MODES), (1,), generator=generator, device=device))]
    kernel_size = 2 * odd + 1
    return StageDraw(
        blur=torch.rand(n, generator=generator, device=device) < ranges.blur_prob,
        shape=shape, sigma_x=sigma_x, sigma_y=sigma_y, theta=theta, beta=beta,
        kernel_size=kernel_size, resize_factor=factor, resize_mode=mode,
        gaussian=torch.rand(n, generator=generator, device=device) < ranges.gaussian_noise_prob,
        noise_sigma=_uniform(*ranges.noise_sigma, n, generator, device),
        poisson_scale=_uniform(*ranges.poisson_scale, n, generator, device),
        grey=torch.rand(n, generator=generator, device=device) < ranges.grey_noise_prob,
        jpeg_quality=torch.randint(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1, (n,),
                                   generator=generator, device=device),
        sinc=torch.rand(n, generator=generator, device=device) < ranges.sinc_prob,
        sinc_cutoff=torch.where(kernel_size < SINC_LARGE_FROM,
                                _uniform(*SINC_CUTOFF_SMALL, n, generator, device),
                                _uniform(*SINC_CUTOFF_LARGE, n, generator, device)),
    )


def draw_final(ranges: FinalRanges, n: int, generator: torch.Generator | None) -> FinalDraw:
    """The final sinc filter, resize mode and JPEG order of a batch of ``n`` images."""
    device = generator.device if generator is not None else torch.device("cpu")
    low, high = ranges.kernel_sizes
    odd = torch.randint(low // 2, high // 2 + 1, (n,), generator=generator, device=device)
    mode = RESIZE_MODES[int(torch.randint(len(RESIZE_MODES), (1,), generator=generator, device=device))]
    return FinalDraw(
        sinc=torch.rand(n, generator=generator, device=device) < ranges.sinc_prob,
        sinc_cutoff=_uniform(*ranges.sinc_cutoff, n, generator, device),
        kernel_size=2 * odd + 1, resize_mode=mode,
        jpeg_first=bool(torch.rand(1, generator=generator, device=device) < ranges.jpeg_first_prob),
    )
