"""The one evaluation protocol srkit reports numbers with (the one SR papers use).

1. HR is cropped to a multiple of the scale (``modcrop``).
2. LR = MATLAB bicubic downscaling of HR, quantised to 8 bits (MATLAB returns uint8 LR).
3. SR is clamped and quantised to 8 bits.
4. PSNR and SSIM are computed on the BT.601 luma (MATLAB ``rgb2ycbcr``, Y in [16, 235])
   after removing ``scale`` pixels from every border; SSIM uses Wang et al.'s 11x11
   Gaussian window (sigma 1.5) over the valid region.

Run ``python -m srkit.evaluation.protocol --dataset srkit/data/bundled/Set5 --scale 4``
to measure the bicubic baseline of a folder of images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from srkit.baseline import BicubicUpsampler
from srkit.degradations.bicubic import bicubic_downscale
from srkit.errors import SrkitError
from srkit.metrics import psnr, quantize, ssim

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")


def modcrop(hr: Tensor, scale: int) -> Tensor:
    """Crop (…,H,W) images at the bottom/right so H and W are multiples of ``scale``."""
    h, w = hr.shape[-2:]
    h, w = h - h % scale, w - w % scale
    if h == 0 or w == 0:
        raise SrkitError(f"modcrop: {hr.shape[-2]}x{hr.shape[-1]} image is smaller than scale {scale}")
    return hr[..., :h, :w]


def make_lr(hr: Tensor, scale: int) -> Tensor:
    """The protocol's LR input: 8-bit MATLAB bicubic downscaling of ``modcrop(hr, scale)``.

    hr: (N,3,H,W) or (3,H,W) in [0, 1] -> (N,3,H//scale,W//scale) (or unbatched) in [0, 1].
    """
    unbatched = hr.dim() == 3
    batch = modcrop(hr, scale)
    if unbatched:
        batch = batch.unsqueeze(0)
    lr = quantize(bicubic_downscale(batch, scale))
    return lr[0] if unbatched else lr


def evaluate(sr: Tensor, hr: Tensor, scale: int) -> dict[str, Tensor]:
    """PSNR (dB) and SSIM of SR against HR under the protocol.

    sr: (N,3,H',W') or (3,H',W') with H', W' the modcropped HR size; hr: the original HR
    (it is modcropped here). Returns ``{"psnr": Tensor[N], "ssim": Tensor[N]}`` (float64).
    PSNR of a perfect reconstruction is ``inf``.
    """
    hr = modcrop(hr, scale)
    if sr.shape != hr.shape:
        raise SrkitError(
            f"evaluate: SR {tuple(sr.shape)} does not match the modcropped HR {tuple(hr.shape)}"
        )
    return {
        "psnr": psnr(sr, hr, crop=scale, y_channel=True),
        "ssim": ssim(sr, hr, crop=scale, y_channel=True),
    }


def _read_rgb(path: Path) -> Tensor:
    try:
        from srkit.imageio import load_image
    except ImportError:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
        return torch.from_numpy(array).permute(2, 0, 1).contiguous()
    return load_image(path)


def bicubic_baseline(folder: Path, scale: int) -> dict[str, dict[str, float]]:
    """Protocol PSNR/SSIM of MATLAB bicubic upsampling for each image in ``folder``."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SrkitError(f"{folder}: no images found")
    upsampler = BicubicUpsampler(scale)
    results = {}
    for path in paths:
        hr = _read_rgb(path).unsqueeze(0).to(torch.float64)
        scores = evaluate(upsampler(make_lr(hr, scale)), hr, scale)
        results[path.name] = {name: float(value[0]) for name, value in scores.items()}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Bicubic baseline under the srkit protocol.")
    parser.add_argument("--dataset", type=Path, required=True, help="folder of HR images")
    parser.add_argument("--scale", type=int, required=True)
    args = parser.parse_args(argv)
    results = bicubic_baseline(args.dataset, args.scale)
    for name, scores in results.items():
        print(f"{name:20s} {scores['psnr']:7.3f} dB  {scores['ssim']:.4f}")
    mean_psnr = sum(s["psnr"] for s in results.values()) / len(results)
    mean_ssim = sum(s["ssim"] for s in results.values()) / len(results)
    print(f"{'mean':20s} {mean_psnr:7.3f} dB  {mean_ssim:.4f}  ({args.dataset}, x{args.scale})")


if __name__ == "__main__":
    main()
