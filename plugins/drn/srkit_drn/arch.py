"""DRN: the primal network of "Closed-loop Matters: Dual Regression Networks" and its dual models.

Guo et al., CVPR 2020. The primal network upsamples the LR image by bicubic interpolation, runs a
U-Net-like path (head conv, stride-2 down blocks, up blocks of RCAB residual channel-attention
blocks + PixelShuffle + 1x1 conv, concatenated with the down path) and emits an image at every x2
level: 1x, 2x, ..., scale x. One dual model per x2 level maps an output back to the level below.

Submodule names follow the official release (``sub_mean``, ``head``, ``down``, ``up_blocks``,
``tail``, ``add_mean``) so its state dicts load after a key check; see :mod:`srkit_drn.convert`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from srkit.api import SrkitError

#: (n_feats, n_blocks) of the published models, by variant and scale.
PRESETS: dict[str, dict[int, tuple[int, int]]] = {
    "s": {4: (16, 30), 8: (8, 30)},
    "l": {4: (20, 40), 8: (10, 36)},
}
#: the official code's DIV2K mean, in the 0..255 range it works in.
RGB_MEAN = (0.4488, 0.4371, 0.4040)
PIXEL_RANGE = 255.0
#: LeakyReLU slope of the down blocks and dual models (``negval``).
NEGATIVE_SLOPE = 0.2
#: channel-attention squeeze factor of every RCAB.
CA_REDUCTION = 16


def n_levels(scale: int) -> int:
    """Number of x2 steps (``log2(scale)``); a one-line error for scales that are not 2^k."""
    if not isinstance(scale, int) or scale < 2 or scale & (scale - 1):
        raise SrkitError(f"DRN scale must be a power of two (2, 4, 8, ...), got {scale!r}")
    return int(math.log2(scale))


def _conv(in_ch: int, out_ch: int, kernel: int, *, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=bias)


def mean_shift(sign: float) -> nn.Conv2d:
    """1x1 conv adding ``sign * 255 * RGB_MEAN``; trainable, loaded from official checkpoints."""
    layer = nn.Conv2d(3, 3, 1)
    assert layer.bias is not None
    with torch.no_grad():
        layer.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        layer.bias.copy_(sign * PIXEL_RANGE * torch.tensor(RGB_MEAN))
    return layer


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate: scales each channel by a sigmoid of its global mean."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(channels // CA_REDUCTION, 1)  # >= 1 keeps tiny test-size models valid
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1), nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_du(x.mean(dim=(2, 3), keepdim=True))


class RCAB(nn.Module):
    """Residual channel-attention block: ``x + CA(conv(relu(conv(x))))``, channels unchanged."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, 3), nn.ReLU(inplace=True),
            _conv(channels, channels, 3), ChannelAttention(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class DownBlock(nn.Module):
    """Halves the resolution: stride-2 conv, LeakyReLU(0.2), conv (no biases).

    Used both on the primal down path and as a dual model (3 -> n_feats -> 3 channels).
    """

    def __init__(self, in_ch: int, hidden: int, out_ch: int) -> None:
        super().__init__()
        self.dual_module = nn.Sequential(
            nn.Sequential(
                nn.Conv2d(in_ch, hidden, 3, stride=2, padding=1, bias=False),
                nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True),
            ),
            _conv(hidden, out_ch, 3, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.dual_module(x)


def _up_block(channels: int, n_blocks: int, out_ch: int) -> nn.Sequential:
    """``n_blocks`` RCABs, x2 PixelShuffle upsampler, 1x1 conv to ``out_ch`` channels."""
    upsampler = nn.Sequential(_conv(channels, 4 * channels, 3), nn.PixelShuffle(2))
    return nn.Sequential(
        *(RCAB(channels) for _ in range(n_blocks)), upsampler, _conv(channels, out_ch, 1)
    )


class DRN(nn.Module):
    """DRN primal network. Input LR (N,3,h,w) in [0,1]; output SR (N,3,h*scale,w*scale) in ~[0,1].

    Args:
        scale: 2^k upscaling factor.
        n_feats: feature width at full resolution; it doubles at each down step.
        n_blocks: RCABs per up block.

    The official computation runs on 0..255 values; this module scales in and out so srkit's [0,1]
    convention holds, and keeps the mean shifts as trainable 1x1 convs (``sub_mean``/``add_mean``).
    """

    def __init__(self, scale: int = 4, n_feats: int = 16, n_blocks: int = 30) -> None:
        super().__init__()
        levels = n_levels(scale)
        if n_feats < 1 or n_blocks < 0:
            raise SrkitError(f"DRN needs n_feats >= 1 and n_blocks >= 0, got {n_feats}, {n_blocks}")
        self.scale, self.n_feats, self.n_blocks, self.levels = scale, n_feats, n_blocks, levels
        width = [n_feats * 2**p for p in range(levels + 1)]  # channels at each down depth

        self.sub_mean = mean_shift(-1.0)
        self.head = _conv(3, n_feats, 3)
        self.down = nn.ModuleList(
            DownBlock(width[p], width[p], width[p + 1]) for p in range(levels)
        )
        # The deepest up block sees only the bottleneck; the others see [upsampled, skip].
        up_in = [width[levels]] + [2 * width[p] for p in range(levels - 1, 0, -1)]
        up_out = [width[p] for p in range(levels - 1, -1, -1)]
        self.up_blocks = nn.ModuleList(
            _up_block(cin, n_blocks, cout) for cin, cout in zip(up_in, up_out, strict=True)
        )
        tail_in = [width[levels]] + [2 * width[p] for p in range(levels - 1, -1, -1)]
        self.tail = nn.ModuleList(_conv(cin, 3, 3) for cin in tail_in)
        self.add_mean = mean_shift(1.0)

    def forward(self, lr: Tensor, *, all_levels: bool = False) -> Tensor | list[Tensor]:
        """The final SR image, or with ``all_levels`` the outputs at 1x, 2x, ..., scale x."""
        x = F.interpolate(lr * PIXEL_RANGE, scale_factor=self.scale, mode="bicubic",
                          align_corners=False)
        x = self.head(self.sub_mean(x))
        skips = []
        for down in self.down:
            skips.append(x)
            x = down(x)
        outputs = [self.add_mean(self.tail[0](x))] if all_levels else []
        for up, skip, tail in zip(self.up_blocks, reversed(skips), self.tail[1:], strict=True):
            x = torch.cat((up(x), skip), dim=1)
            if all_levels:
                outputs.append(self.add_mean(tail(x)))
        if not all_levels:
            return self.add_mean(self.tail[-1](x)) / PIXEL_RANGE
        return [out / PIXEL_RANGE for out in outputs]

    def forward_levels(self, lr: Tensor) -> list[Tensor]:
        """Outputs at every x2 level: ``[(N,3,h,w), (N,3,2h,2w), ..., (N,3,h*scale,w*scale)]``."""
        return self(lr, all_levels=True)


class DualModels(nn.ModuleList):
    """One dual model per x2 level; ``dual[k]`` maps the output at level k+1 to level k.

    Keys are ``<k>.dual_module...``, the official flat layout of ``dual_model_*.pt``.
    """

    def __init__(self, scale: int = 4, n_feats: int = 16) -> None:
        super().__init__(DownBlock(3, n_feats, 3) for _ in range(n_levels(scale)))
        self.scale, self.n_feats = scale, n_feats

    def forward(self, levels: list[Tensor]) -> list[Tensor]:
        """``levels`` (1x..scale x, [0,1]) -> ``[dual[0](levels[1]), ..., dual[K-1](levels[K])]``.

        The dual models work on 0..255 values as in the official training, in and out in [0,1].
        """
        if len(levels) != len(self) + 1:
            raise ValueError(f"expected {len(self) + 1} levels, got {len(levels)}")
        pairs = zip(self, levels[1:], strict=True)
        return [dual(level * PIXEL_RANGE) / PIXEL_RANGE for dual, level in pairs]


def preset(variant: str, scale: int) -> tuple[int, int]:
    """Published ``(n_feats, n_blocks)`` of DRN-S / DRN-L at ``scale``."""
    try:
        return PRESETS[variant][scale]
    except KeyError:
        n_levels(scale)  # a scale DRN cannot have at all is the more useful message
        published = ", ".join(f"x{s}" for s in PRESETS.get(variant, {}))
        raise SrkitError(
            f"drn-{variant}: no published size for x{scale} (published: {published}); "
            "pass n_feats and n_blocks"
        ) from None


def _factory(variant: str):
    def build(scale: int = 4, n_feats: int | None = None, n_blocks: int | None = None) -> DRN:
        if n_feats is None or n_blocks is None:
            n_levels(scale)
            default_feats, default_blocks = preset(variant, scale)
            n_feats = default_feats if n_feats is None else n_feats
            n_blocks = default_blocks if n_blocks is None else n_blocks
        return DRN(scale=scale, n_feats=n_feats, n_blocks=n_blocks)

    build.__name__ = f"drn_{variant}"
    build.__doc__ = f"DRN-{variant.upper()}: published sizes unless n_feats/n_blocks are given."
    return build


drn_s = _factory("s")
drn_l = _factory("l")
