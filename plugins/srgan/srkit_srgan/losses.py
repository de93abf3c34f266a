"""SRGAN's losses: VGG perceptual (content) loss and the adversarial loss with its variants."""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from srkit.api import SrkitError, VGG19Features

#: the paper divides VGG feature maps by 12.75 so the VGG loss is comparable to the MSE loss.
PAPER_FEATURE_SCALE = 1 / 12.75
GAN_TYPES = ("bce", "ragan", "lsgan")


class VGGLoss(nn.Module):
    """Distance between VGG19 features of SR and HR batches (N, 3, H, W) in [0, 1] -> scalar.

    Args:
        layer: VGG19 layer compared, e.g. ``relu5_4`` (the paper's VGG54, default), ``relu2_2``
            (VGG22), or ``conv5_4`` for features before the activation.
        weights: VGG19 state-dict file; ``None`` reads torchvision's file from the hub cache.
        rescale: multiply features by 1/12.75 as in the paper.
        distance: ``mse`` (the paper) or ``l1``.

    VGG (srkit's :class:`VGG19Features`: ImageNet-normalised input) is frozen and stays in eval
    mode; gradients flow only into the SR input. It runs under the caller's autocast; the
    distance is taken in fp32.
    """

    def __init__(self, layer: str = "relu5_4", weights: str | os.PathLike | None = None,
                 rescale: bool = False, distance: str = "mse") -> None:
        super().__init__()
        if distance not in ("mse", "l1"):
            raise SrkitError(f"vgg loss: distance {distance!r} must be mse or l1")
        self.layer, self.distance = layer, distance
        self.scale = PAPER_FEATURE_SCALE if rescale else 1.0
        self.vgg = VGG19Features([layer], weights, instead="train without VGG with --content-loss mse")

    def _extract(self, x: Tensor) -> Tensor:
        return self.vgg(x)[self.layer] * self.scale

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        sr_features = self._extract(sr)
        with torch.no_grad():
            hr_features = self._extract(hr)
        distance = F.mse_loss if self.distance == "mse" else F.l1_loss
        return distance(sr_features.float(), hr_features.float())


class AdversarialLoss(nn.Module):
    """GAN objectives on discriminator logits (N, 1).

    ``gan_type``: ``bce`` (the paper: G minimises -log D(G(z))), ``ragan`` (relativistic average,
    as in ESRGAN) or ``lsgan`` (least squares, targets 1 for real and 0 for fake).
    Calling the module gives the generator's loss; :meth:`discriminator_terms` the discriminator's.
    """

    def __init__(self, gan_type: str = "bce") -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise SrkitError(f"gan_type {gan_type!r} is unknown (choose {', '.join(GAN_TYPES)})")
        self.gan_type = gan_type

    @property
    def needs_real_logits(self) -> bool:
        """Whether the generator's loss also reads D's logits on real images (relativistic)."""
        return self.gan_type == "ragan"

    def _towards(self, logits: Tensor, real: bool) -> Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        if self.gan_type == "lsgan":
            return F.mse_loss(logits, target)
        return F.binary_cross_entropy_with_logits(logits, target)

    def forward(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """Generator loss: small when D takes ``fake_logits`` for real."""
        fake_logits = fake_logits.float()
        if self.gan_type != "ragan":
            return self._towards(fake_logits, real=True)
        if real_logits is None:
            raise ValueError("ragan generator loss needs the logits of real images")
        real_logits = real_logits.detach().float()
        return 0.5 * (self._towards(real_logits - fake_logits.mean(), real=False)
                      + self._towards(fake_logits - real_logits.mean(), real=True))

    def discriminator_terms(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        """(loss on real, loss on fake) for D; their sum is D's loss (logged separately)."""
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        if self.gan_type == "ragan":
            real_term = self._towards(real_logits - fake_logits.mean(), real=True)
            fake_term = self._towards(fake_logits - real_logits.mean(), real=False)
            return 0.5 * real_term, 0.5 * fake_term
        return self._towards(real_logits, real=True), self._towards(fake_logits, real=False)
