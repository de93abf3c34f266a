"""The degradations this plugin registers: randomised (Real-ESRGAN style) and fixed-parameter.

Both map HR (N,3,H,W) in [0, 1] to LR (N,3,H/scale,W/scale) in [0, 1] (8-bit values after the
final JPEG step), on the HR's device except the JPEG step (Pillow, CPU). Random draws come only
from the ``generator`` passed in, so a seed fixes the output.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from srkit.api import SrkitError, check_hr_batch
from srkit_realistic.kernels import apply_kernels, blur_kernels, sinc_kernels
from srkit_realistic.ops import RESIZE_MODES, gaussian_noise, jpeg, poisson_noise, resize
from srkit_realistic.ranges import FINAL, FIRST_ORDER, SECOND_ORDER, StageRanges
from srkit_realistic.sampling import FinalDraw, StageDraw, draw_final, draw_stage
from srkit_realistic.sharpen import unsharp_mask


def _blur(images: Tensor, draw: StageDraw, sinc: bool) -> Tensor:
    kernels = blur_kernels(draw.shape, draw.sigma_x, draw.sigma_y, draw.theta, draw.beta,
                           draw.kernel_size)
    if sinc:
        low_pass = sinc_kernels(draw.sinc_cutoff, draw.kernel_size, kernels.shape[-1])
        kernels = torch.where(draw.sinc[:, None, None], low_pass.to(kernels), kernels)
    blurred = apply_kernels(images, kernels.to(images.device))
    return torch.where(draw.blur.to(images.device)[:, None, None, None], blurred, images)


def _noise(images: Tensor, draw: StageDraw, generator: torch.Generator | None) -> Tensor:
    gauss = gaussian_noise(images, draw.noise_sigma / 255, draw.grey, generator)
    shot = poisson_noise(images, draw.poisson_scale, draw.grey, generator)
    return torch.where(draw.gaussian.to(images.device)[:, None, None, None], gauss, shot).clamp(0, 1)


def _final_sinc(images: Tensor, draw: FinalDraw) -> Tensor:
    kernels = sinc_kernels(draw.sinc_cutoff, draw.kernel_size, int(draw.kernel_size.max()))
    filtered = apply_kernels(images, kernels.to(images.device))
    return torch.where(draw.sinc.to(images.device)[:, None, None, None], filtered, images)


def _scaled(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


class RealisticDegradation:
    """Real-ESRGAN-style random degradation, first or second order (``order`` 1 or 2).

    Each stage: blur (a random kernel per image, see :mod:`srkit_realistic.ranges`; a sinc
    filter with probability 0.1 when ``sinc``), resize by a random factor (one per batch, random
    mode among bicubic/bilinear/area), Gaussian or Poisson noise, JPEG. With ``order=2`` the first
    stage works at HR size times its factor, the second at LR size times its factor; then, with
    ``sinc`` (Real-ESRGAN's order), [resize to the LR size + final sinc filter] and JPEG in a random
    order, else resize to the LR size and JPEG. ``order=1`` resizes straight to the LR size.
    ``sharpen`` unsharp-masks the HR first, as Real-ESRGAN degrades its sharpened ground truth.
    The result is clamped and rounded to 8 bits, as Real-ESRGAN's LR is.
    """

    def __init__(self, order: int = 2, jpeg: bool = True, sinc: bool = True, sharpen: bool = False) -> None:
        if order not in (1, 2):
            raise SrkitError(f"realistic: order must be 1 or 2, got {order}")
        self.order, self.jpeg, self.sinc, self.sharpen = int(order), bool(jpeg), bool(sinc), bool(sharpen)
        self.stages: tuple[StageRanges, ...] = (FIRST_ORDER, SECOND_ORDER)[:self.order]

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor:
        lr_size = check_hr_batch(hr, scale, "realistic degradation", rgb=True)
        x = unsharp_mask(hr) if self.sharpen else hr
        for index, ranges in enumerate(self.stages):
            draw = draw_stage(ranges, hr.shape[0], generator)
            x = _blur(x, draw, self.sinc)
            if self.order == 1:
                x = _noise(resize(x, lr_size, draw.resize_mode), draw, generator)
                x = self._jpeg(x, draw)
                break
            last = index == len(self.stages) - 1
            base = lr_size if last else (hr.shape[-2], hr.shape[-1])
            x = _noise(resize(x, _scaled(base, draw.resize_factor), draw.resize_mode), draw, generator)
            if not last:
                x = self._jpeg(x, draw)
            elif not self.sinc:
                x = self._jpeg(resize(x, lr_size, draw.resize_mode), draw)
            else:
                final = draw_final(FINAL, hr.shape[0], generator)
                if final.jpeg_first:
                    x = _final_sinc(resize(self._jpeg(x, draw), lr_size, final.resize_mode), final)
                else:
                    x = self._jpeg(_final_sinc(resize(x, lr_size, final.resize_mode), final), draw)
        return (x.clamp(0, 1) * 255).round() / 255

    def _jpeg(self, images: Tensor, draw: StageDraw) -> Tensor:
        return jpeg(images, draw.jpeg_quality) if self.jpeg else images


class BlurNoiseJpegDegradation:
    """One named degradation with fixed parameters: blur, downscale, Gaussian noise, JPEG.

    Args:
        sigma: Gaussian blur sigma in HR pixels (0 = no blur); ``sigma2`` the second axis
            (default: ``sigma``, isotropic), rotated by ``theta`` degrees.
        noise: Gaussian noise sigma in 8-bit levels (0 = none), drawn from the generator.
        q: JPEG quality 1..100 (0 = no JPEG).
        resize: downscaling, ``bicubic`` (MATLAB), ``bilinear`` or ``area``.
        grey: luminance-only noise.
        kernel_size: odd blur kernel size; 0 = ``2 * ceil(3 * max sigma) + 1``.
    """

    def __init__(self, sigma: float = 2.0, noise: float = 10.0, q: int = 50, resize: str = "bicubic",
                 sigma2: float = -1.0, theta: float = 0.0, grey: bool = False,
                 kernel_size: int = 0) -> None:
        sigma2 = sigma if sigma2 < 0 else sigma2
        problems = [
            (sigma < 0 or sigma2 < 0, f"sigma must be >= 0, got {sigma}"),
            ((sigma == 0) != (sigma2 == 0), "sigma and sigma2 must both be 0 or both positive"),
            (noise < 0, f"noise must be >= 0 (8-bit levels), got {noise}"),
            (not 0 <= q <= 100, f"q must be a JPEG quality 1..100 (0 = no JPEG), got {q}"),
            (resize not in RESIZE_MODES, f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}"),
            (kernel_size < 0 or (kernel_size and kernel_size % 2 == 0),
             f"kernel_size must be odd (0 = automatic), got {kernel_size}"),
        ]
        for bad, message in problems:
            if bad:
                raise SrkitError(f"blur-noise-jpeg: {message}")
        self.sigma, self.sigma2, self.theta = float(sigma), float(sigma2), float(theta)
        self.noise, self.q, self.resize, self.grey = float(noise), int(q), resize, bool(grey)
        self.kernel_size = kernel_size or 2 * math.ceil(3 * max(self.sigma, self.sigma2)) + 1

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor:
        lr_size = check_hr_batch(hr, scale, "blur-noise-jpeg degradation", rgb=True)
        n = hr.shape[0]
        x = hr
        if self.sigma > 0:
            full = torch.full((n,), 1.0, device=hr.device)
            kernels = blur_kernels(["gaussian"] * n, full * self.sigma, full * self.sigma2,
                                   full * math.radians(self.theta), full,
                                   torch.full((n,), self.kernel_size, device=hr.device))
            x = apply_kernels(x, kernels)
        x = resize(x, lr_size, self.resize)
        if self.noise > 0:
            grey = torch.full((n,), self.grey, dtype=torch.bool)
            x = gaussian_noise(x, torch.full((n,), self.noise / 255), grey, generator)
        x = x.clamp(0, 1)
        if self.q:
            x = jpeg(x, torch.full((n,), self.q))
        return x
