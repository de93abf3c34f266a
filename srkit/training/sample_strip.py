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
    for index, label in enumerate(labels):
        canvas.paste(_label(label, side), (index * side, 0))
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float() / 255.0


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed-size bitmap font
        return ImageFont.load_default()


def _label(text: str, width: int) -> Image.Image:
    """``text`` on a white band ``width`` wide: shrunk to fit if it can be, else cut at the edge."""
    band = Image.new("RGB", (width, BAND), (255, 255, 255))
    draw = ImageDraw.Draw(band)
    for size in (11, 10, 9, 8, 7):
        font = _font(size)
        if draw.textlength(text, font=font) <= width - 4:
            break
    draw.text((2, 2), text, fill=(0, 0, 0), font=font)
    return band
