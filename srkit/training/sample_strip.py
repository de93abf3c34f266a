"""Validation sample strips: bicubic | SR | HR crops side by side, each labelled.

An unlabelled strip of three look-alike images needs the reader to know the order; the labels
say which is which, at which iteration, and the image's validation PSNR.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from srkit.imageio import to_uint8

#: height in pixels of the label band above the crops
BAND = 16


def labelled_strip(crops: list[Tensor], labels: list[str]) -> Tensor:
    """(3, BAND + c, n*c) image in [0, 1]: the (3, c, c) ``crops`` side by side, ``labels`` above."""
    side = crops[0].shape[-1]
    strip = torch.cat([to_uint8(c) for c in crops], dim=-1).permute(1, 2, 0).numpy()
    canvas = Image.new("RGB", (strip.shape[1], BAND + strip.shape[0]), (255, 255, 255))
    canvas.paste(Image.fromarray(strip), (0, BAND))
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1: the fixed-size bitmap font
        font = ImageFont.load_default()
    for index, label in enumerate(labels):
        draw.text((index * side + 3, 2), label, fill=(0, 0, 0), font=font)
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float() / 255.0
