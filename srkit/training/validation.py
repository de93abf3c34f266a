"""Validation during training: protocol PSNR/SSIM on whole images, and side-by-side samples."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from srkit.data import resolve_dataset
from srkit.degradations.imresize import imresize
from srkit.errors import SrkitError
from srkit.evaluation.protocol import evaluate, is_grey_file, make_lr, modcrop
from srkit.imageio import list_images, load_image, save_image
from srkit.metrics.ssim import WINDOW_SIZE
from srkit.training.rng import isolated_rng
from srkit.training.sample_strip import labelled_strip

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
