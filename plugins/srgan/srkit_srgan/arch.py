"""SRResNet generator and SRGAN discriminator (Ledig et al., CVPR 2017), laid out as in the paper.

Both networks take RGB batches in [0, 1], shape (N, 3, H, W).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from srkit.api import SrkitError

#: scales the SRResNet upsampler supports: one x2 PixelShuffle stage per factor of two.
SUPPORTED_SCALES = {2: 1, 4: 2, 8: 3}


class ResidualBlock(nn.Module):
    """3x3 conv, BN, PReLU, 3x3 conv, BN, plus identity: (N, C, h, w) -> (N, C, h, w)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class ConvBN(nn.Module):
    """3x3 conv without bias followed by BN (the bias would be cancelled by BN anyway)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class UpsampleStage(nn.Module):
    """3x3 conv to 4C, PixelShuffle x2, PReLU: (N, C, h, w) -> (N, C, 2h, 2w)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.shuffle(self.conv(x)))


class Head(nn.Module):
    """9x9 conv + PReLU: the wide first layer of the paper."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 9, padding=4)
        self.act = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(x))


class SRResNet(nn.Module):
    """The SRGAN paper's generator: LR (N, 3, h, w) in [0, 1] -> SR (N, 3, h*scale, w*scale) in [0, 1].

    Args:
        scale: 2, 4 or 8 (one, two or three x2 PixelShuffle stages).
        channels: feature width (64 in the paper).
        blocks: number of residual blocks (16 in the paper).

    The output is clamped to [0, 1], as in the Lornatang/SRGAN-PyTorch implementation whose
    checkpoints :mod:`srkit_srgan.convert` reads; pixels outside the range get no gradient.
    """

    def __init__(self, scale: int = 4, channels: int = 64, blocks: int = 16) -> None:
        super().__init__()
        if scale not in SUPPORTED_SCALES:
            raise SrkitError(f"srresnet: scale {scale} is not supported (use 2, 4 or 8)")
        self.scale = scale
        self.head = Head(channels)
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))
        self.body_end = ConvBN(channels)
        self.upsample = nn.Sequential(
            *(UpsampleStage(channels) for _ in range(SUPPORTED_SCALES[scale]))
        )
        self.tail = nn.Conv2d(channels, 3, 9, padding=4)

    def forward(self, lr: Tensor) -> Tensor:
        shallow = self.head(lr)
        features = shallow + self.body_end(self.blocks(shallow))
        return torch.clamp(self.tail(self.upsample(features)), 0.0, 1.0)


class DiscriminatorBlock(nn.Module):
    """3x3 conv (stride 1 or 2), optional BN, LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, batch_norm: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class SRGANDiscriminator(nn.Module):
    """The SRGAN paper's discriminator: HR crops (N, 3, crop, crop) in [0, 1] -> logits (N, 1).

    Eight 3x3 convs (widths C, C, 2C, 2C, 4C, 4C, 8C, 8C; stride 2 on every second), then dense
    1024, LeakyReLU, dense 1. The four stride-2 convs shrink the crop 16 times, so the first dense
    layer reads 8C * (crop/16)^2 features: 512*6*6 for the paper's 96x96 crops.

    Args:
        crop_size: side of the square crops it judges, a multiple of 16 (96 in the paper); or
            ``None`` to accept any size >= 16 by average-pooling the last feature map to 6x6
            (then the dense layer has the paper's 96x96 shape).
        channels: width C of the first conv (64 in the paper).
    """

    def __init__(self, crop_size: int | None = 96, channels: int = 64) -> None:
        super().__init__()
        if crop_size is not None and (crop_size < 16 or crop_size % 16):
            raise SrkitError(
                f"srgan-d: crop_size {crop_size} must be a multiple of 16 "
                "(or None to pool any size to 6x6)"
            )
        self.crop_size = crop_size
        widths = [channels, channels, 2 * channels, 2 * channels,
                  4 * channels, 4 * channels, 8 * channels, 8 * channels]
        blocks, in_channels = [], 3
        for index, width in enumerate(widths):
            stride = 2 if index % 2 else 1
            blocks.append(DiscriminatorBlock(in_channels, width, stride, batch_norm=index > 0))
            in_channels = width
        self.blocks = nn.Sequential(*blocks)
        side = crop_size // 16 if crop_size is not None else 6
        self.pool = nn.Identity() if crop_size is not None else nn.AdaptiveAvgPool2d(6)
        self.fc1 = nn.Linear(in_channels * side * side, 1024)
        self.act = nn.LeakyReLU(0.2)
        self.fc2 = nn.Linear(1024, 1)

    def forward(self, x: Tensor) -> Tensor:
        if self.crop_size is not None and x.shape[-2:] != (self.crop_size, self.crop_size):
            raise SrkitError(
                f"srgan-d: built for {self.crop_size}x{self.crop_size} crops, "
                f"got {tuple(x.shape[-2:])}; build it with crop_size=None for any size"
            )
        features = torch.flatten(self.pool(self.blocks(x)), 1)
        return self.fc2(self.act(self.fc1(features)))
