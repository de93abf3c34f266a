"""The official DRN release's key layout and forward pass, restated functionally for the tests.

The layout comes from the key/shape listings in ``data/`` (printed from the official code); the
forward pass is written from the published description of guoyongcs/DRN (bicubic upsample with
``align_corners=False`` on 0..255 input, ``sub_mean``, head, stride-2 down blocks with LeakyReLU
0.2, up blocks of RCABs + conv/PixelShuffle + 1x1 conv, concatenation with the down path, a tail
conv and ``add_mean`` per level). It deliberately shares no code with ``srkit_drn``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

DATA = Path(__file__).parent / "data"


def official_layout(scale: int) -> dict[str, tuple[int, ...]]:
    """``key -> shape`` of the official DRN-S checkpoint at ``scale`` (duals as ``dual[i].…``)."""
    layout = {}
    for line in (DATA / f"drn-s-x{scale}-official-keys.tsv").read_text().splitlines():
        key, shape = line.split("\t")
        layout[key] = tuple(int(v) for v in shape.strip("()").split(",") if v.strip())
    return layout


def random_official_checkpoint(scale: int, seed: int = 0) -> tuple[
    dict[str, Tensor], list[dict[str, Tensor]]
]:
    """Random tensors in the official layout: ``(primal state dict, list of dual state dicts)``.

    Mean shifts get random values (not the defaults) so a converter that hard-codes them fails.
    Fresh dicts on every call (the tensors are shared; treat them as read-only).
    """
    primal, duals = _random_checkpoint(scale, seed)
    return dict(primal), [dict(sd) for sd in duals]


@functools.lru_cache(maxsize=4)
def _random_checkpoint(scale: int, seed: int) -> tuple[dict[str, Tensor], list[dict[str, Tensor]]]:
    generator = torch.Generator().manual_seed(seed)
    primal: dict[str, Tensor] = {}
    duals: dict[int, dict[str, Tensor]] = {}
    for key, shape in official_layout(scale).items():
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
        tensor = torch.randn(shape, generator=generator) / math.sqrt(fan_in) * 0.5
        if key.startswith("dual["):
            index, rest = key[len("dual["):].split("].", 1)
            duals.setdefault(int(index), {})[rest] = tensor
        else:
            primal[key] = tensor
    for name, sign in (("sub_mean", -1.0), ("add_mean", 1.0)):
        noise = 0.05 * torch.randn(3, 3, generator=generator)
        primal[f"{name}.weight"] = (torch.eye(3) + noise).view(3, 3, 1, 1)
        primal[f"{name}.bias"] = sign * 255 * torch.rand(3, generator=generator)
    return primal, [duals[i] for i in sorted(duals)]


def _conv(x: Tensor, sd: dict[str, Tensor], name: str, *, stride: int = 1) -> Tensor:
    weight = sd[f"{name}.weight"]
    return F.conv2d(x, weight, sd.get(f"{name}.bias"), stride=stride, padding=weight.shape[-1] // 2)


def _down(x: Tensor, sd: dict[str, Tensor], name: str) -> Tensor:
    x = F.leaky_relu(_conv(x, sd, f"{name}.dual_module.0.0", stride=2), 0.2)
    return _conv(x, sd, f"{name}.dual_module.1")


def _rcab(x: Tensor, sd: dict[str, Tensor], name: str) -> Tensor:
    res = _conv(F.relu(_conv(x, sd, f"{name}.body.0")), sd, f"{name}.body.2")
    gate = res.mean(dim=(2, 3), keepdim=True)
    gate = torch.sigmoid(_conv(F.relu(_conv(gate, sd, f"{name}.body.3.conv_du.0")), sd,
                               f"{name}.body.3.conv_du.2"))
    return x + res * gate


def official_forward(sd: dict[str, Tensor], lr255: Tensor, scale: int) -> list[Tensor]:
    """Outputs (0..255) at 1x, 2x, ..., scale x for an LR batch in 0..255."""
    levels = int(math.log2(scale))
    x = F.interpolate(lr255, scale_factor=scale, mode="bicubic", align_corners=False)
    x = _conv(_conv(x, sd, "sub_mean"), sd, "head")
    skips = []
    for p in range(levels):
        skips.append(x)
        x = _down(x, sd, f"down.{p}")
    outputs = [_conv(_conv(x, sd, "tail.0"), sd, "add_mean")]
    for i in range(levels):
        n_blocks = len({k.split(".")[2] for k in sd if k.startswith(f"up_blocks.{i}.")}) - 2
        for j in range(n_blocks):
            x = _rcab(x, sd, f"up_blocks.{i}.{j}")
        x = F.pixel_shuffle(_conv(x, sd, f"up_blocks.{i}.{n_blocks}.0"), 2)
        x = _conv(x, sd, f"up_blocks.{i}.{n_blocks + 1}")
        x = torch.cat((x, skips[levels - 1 - i]), dim=1)
        outputs.append(_conv(_conv(x, sd, f"tail.{i + 1}"), sd, "add_mean"))
    return outputs


def official_duals(duals: list[dict[str, Tensor]], outputs255: list[Tensor]) -> list[Tensor]:
    """Dual model i applied to output level i+1 (0..255 in and out)."""
    return [_down(out, {f"m.{k}": v for k, v in sd.items()}, "m")
            for sd, out in zip(duals, outputs255[1:], strict=True)]
