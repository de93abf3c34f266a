"""RRDBNet (ESRGAN's generator, Wang et al. 2018) and Real-ESRGAN's U-Net discriminator with
spectral normalisation (Wang et al. 2021), laid out key for key as BasicSR 1.4.2 and the
Real-ESRGAN releases store them, so their files load without renaming.

Both networks take RGB batches in [0, 1], shape (N, 3, H, W).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from srkit.api import GeneratorFacts, SizeRequirements, SrkitError

#: scale -> pixel-unshuffle factor before ``conv_first``: the trunk always upsamples x4, so the
#: x2 and x1 models first fold 2x2 / 4x4 pixel blocks into channels (the Real-ESRGAN releases' way).
UNSHUFFLE = {4: 1, 2: 2, 1: 4}
#: ESRGAN scales the residual of every dense block and of every RRDB by this factor.
RESIDUAL_SCALE = 0.2
NEGATIVE_SLOPE = 0.2


def _scaled_kaiming(convs: list[nn.Conv2d], factor: float) -> None:
    """Kaiming-normal weights times ``factor``, zero biases: ESRGAN's initialisation, which keeps
    the deep residual trunk close to identity at the start."""
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight, a=0.0, mode="fan_in")
        conv.weight.data.mul_(factor)
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)


class DenseBlock(nn.Module):
    """Five 3x3 convs, each reading the block input and every earlier output (dense
    connections), LeakyReLU(0.2) after the first four; residual scaled by 0.2:
    (N, C, h, w) -> (N, C, h, w)."""

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, growth, 3, padding=1)
        self.conv2 = nn.Conv2d(channels + growth, growth, 3, padding=1)
        self.conv3 = nn.Conv2d(channels + 2 * growth, growth, 3, padding=1)
        self.conv4 = nn.Conv2d(channels + 3 * growth, growth, 3, padding=1)
        self.conv5 = nn.Conv2d(channels + 4 * growth, channels, 3, padding=1)
        _scaled_kaiming([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), NEGATIVE_SLOPE))
        return x + RESIDUAL_SCALE * self.conv5(torch.cat(features, 1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, outer residual scaled by 0.2."""

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = DenseBlock(channels, growth)
        self.rdb2 = DenseBlock(channels, growth)
        self.rdb3 = DenseBlock(channels, growth)

    def forward(self, x: Tensor) -> Tensor:
        return x + RESIDUAL_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN's generator: LR (N, 3, h, w) in [0, 1] -> SR (N, 3, h*scale, w*scale), not clamped.

    Args:
        scale: 4, 2 or 1. The trunk upsamples x4 (nearest x2, conv, twice); at x2 and x1 the
            input is first pixel-unshuffled by 2 or 4, as in the Real-ESRGAN x2 release.
        channels: feature width (64 in ESRGAN and Real-ESRGAN).
        blocks: number of RRDBs in the trunk (23).
        growth: channels each dense-block conv adds (32).

    At x2 and x1 an input whose sides are not multiples of 2 or 4 is reflect-padded and the
    output cropped back, so any image upscales.
    """

    def __init__(self, scale: int = 4, channels: int = 64, blocks: int = 23, growth: int = 32) -> None:
        super().__init__()
        if scale not in UNSHUFFLE:
            raise SrkitError(f"rrdbnet: scale must be 4, 2 or 1 (the x4 trunk, pixel-unshuffled at "
                             f"x2 and x1), got {scale}")
        self.scale, self.channels, self.blocks, self.growth = scale, channels, blocks, growth
        self.unshuffle = UNSHUFFLE[scale]
        # x2 and x1 pixel-unshuffle the input: callers pad it to a multiple of the unshuffle factor
        self.facts = GeneratorFacts(SizeRequirements(multiple_of=self.unshuffle))
        self.conv_first = nn.Conv2d(3 * self.unshuffle**2, channels, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(channels, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_up1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_up2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_hr = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_last = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, lr: Tensor) -> Tensor:
        height, width = lr.shape[-2:]
        pad_h, pad_w = -height % self.unshuffle, -width % self.unshuffle
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            lr = F.pad(lr, (0, pad_w, 0, pad_h), mode=mode)
        x = F.pixel_unshuffle(lr, self.unshuffle) if self.unshuffle > 1 else lr
        features = self.conv_first(x)
        features = features + self.conv_body(self.body(features))
        for conv in (self.conv_up1, self.conv_up2):
            features = F.leaky_relu(conv(F.interpolate(features, scale_factor=2, mode="nearest")),
                                    NEGATIVE_SLOPE)
        sr = self.conv_last(F.leaky_relu(self.conv_hr(features), NEGATIVE_SLOPE))
        if pad_h or pad_w:
            sr = sr[..., : height * self.scale, : width * self.scale]
        return sr


def _spectral(conv: nn.Conv2d) -> nn.Conv2d:
    """``conv`` with spectral normalisation stored as ``weight_orig``/``weight_u``/``weight_v``
    (the layout of the Real-ESRGAN discriminator files)."""
    return nn.utils.spectral_norm(conv)


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's discriminator: (N, 3, H, W) in [0, 1] -> per-pixel logits (N, 1, H, W).

    Args:
        channels: width of the first conv (64); the encoder doubles it three times with stride-2
            4x4 convs, the decoder halves it back after bilinear x2 upsampling.
        skip: add each encoder level to the decoder level of the same size (the releases do).

    Every conv but the first and the last is spectrally normalised. H and W must be multiples
    of 8. The logit map is averaged by the GAN loss, so it is a per-pixel realness judgement.
    """

    def __init__(self, channels: int = 64, skip: bool = True) -> None:
        super().__init__()
        self.channels, self.skip = channels, skip
        c = channels
        self.conv0 = nn.Conv2d(3, c, 3, padding=1)
        self.conv1 = _spectral(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False))
        self.conv2 = _spectral(nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False))
        self.conv3 = _spectral(nn.Conv2d(4 * c, 8 * c, 4, 2, 1, bias=False))
        self.conv4 = _spectral(nn.Conv2d(8 * c, 4 * c, 3, 1, 1, bias=False))
        self.conv5 = _spectral(nn.Conv2d(4 * c, 2 * c, 3, 1, 1, bias=False))
        self.conv6 = _spectral(nn.Conv2d(2 * c, c, 3, 1, 1, bias=False))
        self.conv7 = _spectral(nn.Conv2d(c, c, 3, 1, 1, bias=False))
        self.conv8 = _spectral(nn.Conv2d(c, c, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise SrkitError(f"unet discriminator: image sides must be multiples of 8, got "
                             f"{tuple(x.shape[-2:])}")

        def act(y: Tensor) -> Tensor:
            return F.leaky_relu(y, NEGATIVE_SLOPE)

        def up(y: Tensor) -> Tensor:
            return F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)

        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        decoded = x3
        for conv, encoded in ((self.conv4, x2), (self.conv5, x1), (self.conv6, x0)):
            decoded = act(conv(up(decoded)))
            if self.skip:
                decoded = decoded + encoded
        out = act(self.conv8(act(self.conv7(decoded))))
        return self.conv9(out)

