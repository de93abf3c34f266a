"""An independent statement of the reference forward passes, read straight from the release keys.

RRDBNet and the U-Net discriminator as BasicSR 1.4.2 / Real-ESRGAN define them, written as
functional ops over a state dict in the release layout (``data/*.tsv``), so a wrong mapping or
a wrong layer in srkit's modules cannot hide by sharing code with them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

DATA = Path(__file__).parent / "data"


def release_layout(tsv: str) -> dict[str, tuple[int, ...]]:
    """``key -> shape`` of a release file, from its key listing (header line skipped)."""
    lines = (DATA / tsv).read_text().splitlines()[1:]
    return {key: tuple(ast.literal_eval(shape)) for key, shape in (line.split("\t") for line in lines)}


def random_release_state(tsv: str, seed: int = 0, blocks: int | None = None) -> dict[str, Tensor]:
    """Random tensors in a release layout; ``blocks`` keeps only the first RRDBs (a faster test).

    Conv weights are scaled by their fan-in so 23 blocks of activations stay finite and varied.
    """
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in release_layout(tsv).items():
        if blocks is not None and key.startswith("body.") and int(key.split(".")[1]) >= blocks:
            continue
        if key.endswith(("weight", "weight_orig")) and len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=generator) / fan_in**0.5
        elif key.endswith(("weight_u", "weight_v")):
            vector = torch.randn(shape, generator=generator)
            state[key] = vector / vector.norm()
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state


class KeyReader:
    """Reads a state dict and counts how often every key is read."""

    def __init__(self, state: dict[str, Tensor]) -> None:
        self.state, self.reads = state, dict.fromkeys(state, 0)

    def __getitem__(self, key: str) -> Tensor:
        self.reads[key] += 1
        return self.state[key]

    def conv(self, x: Tensor, name: str, stride: int = 1, padding: int = 1) -> Tensor:
        bias = self[f"{name}.bias"] if f"{name}.bias" in self.state else None
        return F.conv2d(x, self[f"{name}.weight"], bias, stride=stride, padding=padding)

    def sn_conv(self, x: Tensor, name: str, stride: int, padding: int) -> Tensor:
        """A spectrally normalised conv in eval mode: W / (u . W_mat v) with the stored u and v."""
        weight = self[f"{name}.weight_orig"]
        u, v = self[f"{name}.weight_u"], self[f"{name}.weight_v"]
        sigma = torch.dot(u, weight.reshape(weight.shape[0], -1) @ v)
        return F.conv2d(x, weight / sigma, stride=stride, padding=padding)

    def every_key_read_once(self) -> bool:
        return all(n == 1 for n in self.reads.values())


def official_rrdbnet(x: Tensor, ref: KeyReader) -> Tensor:
    """BasicSR's RRDBNet forward; the scale is read from conv_first's input channels."""
    def lrelu(y: Tensor) -> Tensor:
        return F.leaky_relu(y, 0.2)

    inputs = ref.state["conv_first.weight"].shape[1]
    factor = {3: 1, 12: 2, 48: 4}[inputs]
    if factor > 1:  # BasicSR's pixel_unshuffle: (b, c, h, w) -> (b, c*f*f, h/f, w/f)
        b, c, h, w = x.shape
        x = x.view(b, c, h // factor, factor, w // factor, factor).permute(0, 1, 3, 5, 2, 4)
        x = x.reshape(b, c * factor * factor, h // factor, w // factor)
    first = ref.conv(x, "conv_first")
    trunk, i = first, 0
    while f"body.{i}.rdb1.conv1.weight" in ref.state:
        rrdb_in = trunk
        for rdb in ("rdb1", "rdb2", "rdb3"):
            p = f"body.{i}.{rdb}"
            x0 = trunk
            x1 = lrelu(ref.conv(x0, f"{p}.conv1"))
            x2 = lrelu(ref.conv(torch.cat((x0, x1), 1), f"{p}.conv2"))
            x3 = lrelu(ref.conv(torch.cat((x0, x1, x2), 1), f"{p}.conv3"))
            x4 = lrelu(ref.conv(torch.cat((x0, x1, x2, x3), 1), f"{p}.conv4"))
            x5 = ref.conv(torch.cat((x0, x1, x2, x3, x4), 1), f"{p}.conv5")
            trunk = x5 * 0.2 + x0
        trunk = trunk * 0.2 + rrdb_in
        i += 1
    feat = first + ref.conv(trunk, "conv_body")
    feat = lrelu(ref.conv(F.interpolate(feat, scale_factor=2, mode="nearest"), "conv_up1"))
    feat = lrelu(ref.conv(F.interpolate(feat, scale_factor=2, mode="nearest"), "conv_up2"))
    return ref.conv(lrelu(ref.conv(feat, "conv_hr")), "conv_last")


def official_unet_discriminator(x: Tensor, ref: KeyReader, skip: bool = True) -> Tensor:
    """Real-ESRGAN's UNetDiscriminatorSN forward in eval mode."""
    def lrelu(y: Tensor) -> Tensor:
        return F.leaky_relu(y, 0.2)

    def up(y: Tensor) -> Tensor:
        return F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)

    x0 = lrelu(ref.conv(x, "conv0"))
    x1 = lrelu(ref.sn_conv(x0, "conv1", 2, 1))
    x2 = lrelu(ref.sn_conv(x1, "conv2", 2, 1))
    x3 = lrelu(ref.sn_conv(x2, "conv3", 2, 1))
    x4 = lrelu(ref.sn_conv(up(x3), "conv4", 1, 1))
    if skip:
        x4 = x4 + x2
    x5 = lrelu(ref.sn_conv(up(x4), "conv5", 1, 1))
    if skip:
        x5 = x5 + x1
    x6 = lrelu(ref.sn_conv(up(x5), "conv6", 1, 1))
    if skip:
        x6 = x6 + x0
    out = lrelu(ref.sn_conv(x6, "conv7", 1, 1))
    out = lrelu(ref.sn_conv(out, "conv8", 1, 1))
    return ref.conv(out, "conv9")
