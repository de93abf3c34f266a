"""The parameter ranges of the randomised degradation, stage by stage.

The values are the ones published with Real-ESRGAN (Wang et al., ICCV 2021 workshops, and its
training options): first stage blur sigma 0.2-3, generalised-Gaussian beta 0.5-4, plateau beta
1-2, odd kernel sizes 7-21, resize x0.15-1.5 (up 20 %, down 70 %, keep 10 %), Gaussian noise
sigma 1-30 (8-bit levels) or Poisson scale 0.05-3 (half each, 40 % luminance-only), JPEG
quality 30-95; second stage blur with probability 0.8 and sigma 0.2-1.5, resize x0.3-1.2 (up
30 %, down 40 %, keep 30 %), noise sigma 1-25 or Poisson 0.05-2.5, JPEG 30-95. In both stages a
blur kernel is a sinc (circular low-pass) filter with probability 0.1, cutoff pi/3-pi (pi/5-pi
for kernels of 13 taps or more); after the second stage a final sinc filter (probability 0.8,
cutoff pi/3-pi) goes with the resize to the LR size, before or after the last JPEG (half each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: (shape, isotropic) -> probability of that kernel family (Real-ESRGAN's kernel list)
KERNEL_FAMILIES: tuple[tuple[str, bool, float], ...] = (
    ("gaussian", True, 0.45),
    ("gaussian", False, 0.25),
    ("generalized", True, 0.12),
    ("generalized", False, 0.03),
    ("plateau", True, 0.12),
    ("plateau", False, 0.03),
)


@dataclass(frozen=True)
class StageRanges:
    """Where each random parameter of one degradation stage is drawn from (uniformly)."""

    blur_prob: float
    sigma: tuple[float, float]
    resize_probs: tuple[float, float, float]  # up, down, keep
    resize_scale: tuple[float, float]
    noise_sigma: tuple[float, float]  # Gaussian noise, in 8-bit levels (0..255)
    poisson_scale: tuple[float, float]
    kernel_sizes: tuple[int, int] = (7, 21)  # odd sizes from low to high
    beta_generalized: tuple[float, float] = (0.5, 4.0)
    beta_plateau: tuple[float, float] = (1.0, 2.0)
    gaussian_noise_prob: float = 0.5  # otherwise Poisson noise
    grey_noise_prob: float = 0.4
    jpeg_quality: tuple[int, int] = (30, 95)
    sinc_prob: float = 0.1  # the blur kernel is a sinc filter instead of the families above


FIRST_ORDER = StageRanges(blur_prob=1.0, sigma=(0.2, 3.0), resize_probs=(0.2, 0.7, 0.1),
                          resize_scale=(0.15, 1.5), noise_sigma=(1.0, 30.0),
                          poisson_scale=(0.05, 3.0))
SECOND_ORDER = StageRanges(blur_prob=0.8, sigma=(0.2, 1.5), resize_probs=(0.3, 0.4, 0.3),
                           resize_scale=(0.3, 1.2), noise_sigma=(1.0, 25.0),
                           poisson_scale=(0.05, 2.5))

#: sinc cutoff (radians per pixel) of the stages' blur kernels: wider for large kernels
SINC_CUTOFF_SMALL = (math.pi / 3, math.pi)  # kernels of fewer than 13 taps
SINC_CUTOFF_LARGE = (math.pi / 5, math.pi)
SINC_LARGE_FROM = 13


@dataclass(frozen=True)
class FinalRanges:
    """The last step of the second-order model: resize to the LR size with a sinc filter, and JPEG."""

    sinc_prob: float = 0.8
    sinc_cutoff: tuple[float, float] = (math.pi / 3, math.pi)
    kernel_sizes: tuple[int, int] = (7, 21)
    jpeg_first_prob: float = 0.5  # JPEG, then resize + sinc; otherwise resize + sinc, then JPEG


FINAL = FinalRanges()
