"""Validation during training: protocol PSNR/SSIM on whole images, and side-by-side samples.

Validation sample strips: bicubic | SR | HR crops side by side, each labelled.

An unlabelled strip of three look-alike images needs the reader to know the order; the labels
say which is which, at which iteration, and the image's validation PSNR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from srkit.data import resolve_dataset
from srkit.degradations.imresize import imresize
from srkit.errors import SrkitError
from srkit.evaluation.protocol import evaluate, is_grey_file, make_lr, modcrop
from srkit.imageio import list_images, load_image, save_image, to_uint8
from srkit.metrics.ssim import WINDOW_SIZE
from srkit.training.rng import isolated_rng

#: side of the HR crop shown in samples (bicubic | SR | HR side by side, labelled)
SAMPLE_CROP = 192


def check_scorable(hr: Tensor, scale: int) -> None:
    """The protocol shaves ``scale`` pixels per side and needs SSIM's window in what is left."""
    need = 2 * scale + WINDOW_SIZE
    height, width = hr.shape[-2:]
    if min(height, width) < need:
        raise SrkitError(f"{width}x{height} image is too small to validate x{scale} "
                         f"(needs at least {need}x{need})")


class Validator:
    """Evaluates a generator on every image of the validation set (the core protocol)."""

    def __init__(self, val: str, scale: int, device: torch.device) -> None:
        self.scale, self.device = scale, device
        self.images: list[tuple[str, Tensor, Tensor, bool]] = []
        self._bicubic: dict[str, float] | None = None
        for path in list_images(resolve_dataset(val)):
            try:
                hr = modcrop(load_image(path), scale).unsqueeze(0)
                check_scorable(hr, scale)
            except SrkitError as exc:
                message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
                raise SrkitError(f"--val: {message}") from None
            self.images.append((path.stem, hr, make_lr(hr, scale), is_grey_file(path)))

    @torch.no_grad()
    def bicubic_scores(self) -> dict[str, float]:
        """Mean PSNR/SSIM of MATLAB bicubic on the set: the baseline every result is read
        against (computed once)."""
        if self._bicubic is None:
            psnrs, ssims = [], []
            for _, hr, lr, grey in self.images:
                sr = imresize(lr, float(self.scale)).clamp(0.0, 1.0)
                scores = evaluate(sr, hr, self.scale, grey=grey)
                psnrs.append(float(scores["psnr"][0]))
                ssims.append(float(scores["ssim"][0]))
            self._bicubic = {"psnr": sum(psnrs) / len(psnrs), "ssim": sum(ssims) / len(ssims)}
        return self._bicubic

    @torch.no_grad()
    def run(self, generator: nn.Module, samples_dir: Path | None = None,
            iteration: int = 0) -> dict[str, float]:
        """Mean PSNR/SSIM over the set; writes one sample PNG per image into ``samples_dir``."""
        was_training = generator.training
        generator.eval()
        psnrs, ssims = [], []
        try:
            with isolated_rng():
                for name, hr, lr, grey in self.images:
                    sr = generator(lr.to(self.device)).float().clamp(0.0, 1.0).cpu()
                    scores = evaluate(sr, hr, self.scale, grey=grey)
                    psnrs.append(float(scores["psnr"][0]))
                    ssims.append(float(scores["ssim"][0]))
                    if samples_dir is not None:
                        labels = ["bicubic", f"SR, iteration {iteration}: {psnrs[-1]:.2f} dB", "HR"]
                        save_image(labelled_strip(self._crops(lr, sr, hr), labels),
                                   samples_dir / f"iter_{iteration:06d}_{name}.png")
        finally:
            generator.train(was_training)
        return {"psnr": sum(psnrs) / len(psnrs), "ssim": sum(ssims) / len(ssims)}

    def _crops(self, lr: Tensor, sr: Tensor, hr: Tensor) -> list[Tensor]:
        """Three (3, c, c) images: bicubic-upscaled LR, SR and HR of a central crop of side c."""
        s = self.scale
        h, w = hr.shape[-2:]
        c = min(h, w, SAMPLE_CROP) // s * s
        top, left = (h - c) // 2 // s * s, (w - c) // 2 // s * s
        lr_crop = lr[..., top // s: (top + c) // s, left // s: (left + c) // s]
        bicubic = imresize(lr_crop, float(s)).clamp(0.0, 1.0)
        crops = [x[..., top: top + c, left: left + c] for x in (sr, hr)]
        return [bicubic[0], *(crop[0] for crop in crops)]


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
