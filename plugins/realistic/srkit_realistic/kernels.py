"""Batched 2-D blur kernels: isotropic/anisotropic Gaussian, generalised Gaussian, plateau.

Every kernel of a batch lives on one ``size x size`` grid (the largest size of the batch);
a smaller kernel is that grid with zeros outside its own ``k x k`` square, so images with
different kernels are blurred by one grouped convolution.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

#: kernel shapes: exp(-q/2) (Gaussian), exp(-q^beta / 2) (generalised), 1 / (1 + q^beta) (plateau),
#: with q = c^T Sigma^-1 c the squared Mahalanobis distance of the tap c from the centre.
SHAPES = ("gaussian", "generalized", "plateau")


def covariance_inverse(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor) -> Tensor:
    """Sigma^-1 of (N,) axis sigmas rotated by ``theta`` radians: (N, 2, 2)."""
    cos, sin = torch.cos(theta), torch.sin(theta)
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    inverse_diag = torch.diag_embed(torch.stack([sigma_x.pow(-2), sigma_y.pow(-2)], -1))
    return rotation @ inverse_diag @ rotation.transpose(-1, -2)


def blur_kernels(shape: list[str], sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor,
                 sizes: Tensor) -> Tensor:
    """Normalised kernels (N, S, S), S = ``max(sizes)``; every argument has one entry per image.

    ``shape[i]`` in :data:`SHAPES`; ``beta`` is ignored for ``gaussian``; ``sizes`` odd ints.
    """
    size = int(sizes.max())
    radius = size // 2
    axis = torch.arange(-radius, radius + 1, dtype=torch.float32, device=sigma_x.device)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1)  # (S, S, 2): (x, y)
    inverse = covariance_inverse(sigma_x, sigma_y, theta)
    q = torch.einsum("hwi,nij,hwj->nhw", grid, inverse, grid)
    beta = beta[:, None, None]
    kinds = torch.tensor([SHAPES.index(s) for s in shape], device=q.device)[:, None, None]
    kernels = torch.where(kinds == 0, torch.exp(-0.5 * q),
                          torch.where(kinds == 1, torch.exp(-0.5 * q.pow(beta)), 1 / (1 + q.pow(beta))))
    own_radius = (sizes.to(q.device)[:, None, None] // 2)
    inside = (grid[..., 0].abs() <= own_radius) & (grid[..., 1].abs() <= own_radius)
    kernels = kernels * inside
    return kernels / kernels.sum(dim=(-1, -2), keepdim=True)


def sinc_kernels(cutoff: Tensor, sizes: Tensor, grid: int) -> Tensor:
    """Normalised circular low-pass ("sinc") kernels (N, grid, grid): ``cutoff`` (N,) in radians
    per pixel, each kernel ``sizes[i]`` taps wide (odd), zero outside, centred on the grid.

    The ideal 2-D low-pass response ``cutoff * J1(cutoff * r) / (2 pi r)`` (J1: Bessel function of
    the first kind), ``cutoff^2 / (4 pi)`` at the centre; it rings, as band-limited real
    cameras and resamplers do.
    """
    radius = grid // 2
    axis = torch.arange(-radius, radius + 1, dtype=torch.float64, device=cutoff.device)
    r = torch.sqrt(axis[None, :] ** 2 + axis[:, None] ** 2)[None]
    omega = cutoff.to(torch.float64)[:, None, None]
    safe_r = torch.where(r == 0, torch.ones_like(r), r)
    response = omega * torch.special.bessel_j1(omega * safe_r) / (2 * math.pi * safe_r)
    kernels = torch.where(r == 0, omega**2 / (4 * math.pi), response)
    own_radius = (sizes.to(cutoff.device)[:, None, None] // 2)
    inside = (axis[None, :, None].abs() <= own_radius) & (axis[None, None, :].abs() <= own_radius)
    kernels = kernels * inside
    return (kernels / kernels.sum(dim=(-1, -2), keepdim=True)).to(torch.float32)


def apply_kernels(images: Tensor, kernels: Tensor) -> Tensor:
    """Blur each image of (N,C,H,W) with its own kernel of (N,S,S) (reflect padding where it fits)."""
    n, c, h, w = images.shape
    size = kernels.shape[-1]
    radius = size // 2
    mode = "reflect" if radius < min(h, w) else "replicate"
    planes = F.pad(images.reshape(1, n * c, h, w), (radius,) * 4, mode=mode)
    weight = kernels.to(images.dtype).repeat_interleave(c, dim=0)[:, None]
    return F.conv2d(planes, weight, groups=n * c).reshape(n, c, h, w)
