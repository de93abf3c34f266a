"""The one evaluation protocol srkit reports numbers with (the one SR papers use).

1. HR is cropped to a multiple of the scale (``modcrop``).
2. LR = MATLAB bicubic downscaling of HR, quantised to 8 bits (MATLAB returns uint8 LR).
3. SR is clamped and quantised to 8 bits.
4. PSNR and SSIM are computed on the BT.601 luma (MATLAB ``rgb2ycbcr``, Y in [16, 235]),
   rounded to integers as MATLAB does on 8-bit images (``y_channel="matlab"``, the default;
   ``"basicsr"`` keeps Y unrounded, as BasicSR does), after removing ``scale`` pixels from every
   border; SSIM uses Wang et al.'s 11x11
   Gaussian window (sigma 1.5) over the valid region. A reference stored as a grey file
   (Set14 ``bridge.png``) is compared on its grey level (0..255), as MATLAB scripts read
   single-channel files: pass ``grey=is_grey_file(path)`` to :func:`evaluate`.

Run ``python -m srkit.evaluation.protocol --dataset srkit/data/bundled/Set5 --scale 4``
to measure the bicubic baseline of a folder of images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from srkit.degradations.lr import make_lr as degrade
from srkit.errors import SrkitError
from srkit.imageio import list_images, load_image
from srkit.metrics import DEFAULT_Y_MODE, Y_MODES, psnr_ssim
from srkit.nn.baseline import BicubicUpsampler


def modcrop(hr: Tensor, scale: int) -> Tensor:
    """Crop (…,H,W) images at the bottom/right so H and W are multiples of ``scale``."""
    if int(scale) != scale or scale < 1:
        raise SrkitError(f"modcrop: scale must be a positive integer, got {scale}")
    h, w = hr.shape[-2:]
    h, w = h - h % scale, w - w % scale
    if h == 0 or w == 0:
        raise SrkitError(f"modcrop: {hr.shape[-2]}x{hr.shape[-1]} image is smaller than scale {scale}")
    return hr[..., :h, :w]


def make_lr(hr: Tensor, scale: int) -> Tensor:
    """The protocol's LR input: 8-bit MATLAB bicubic downscaling of ``modcrop(hr, scale)``.

    hr: (N,3,H,W) or (3,H,W) in [0, 1] (one channel: grey) -> RGB (N,3,H//scale,W//scale)
    (or unbatched) in [0, 1]. Made by :func:`srkit.degradations.make_lr`, as training LR and
    ``srkit degrade`` are.
    """
    unbatched = hr.dim() == 3
    batch = modcrop(hr, scale)
    if unbatched:
        batch = batch.unsqueeze(0)
    lr = degrade(batch.expand(-1, 3, -1, -1), scale)
    return lr[0] if unbatched else lr


def evaluate(sr: Tensor, hr: Tensor, scale: int, *, grey: bool = False,
             y_channel: str = DEFAULT_Y_MODE) -> dict[str, Tensor]:
    """PSNR (dB) and SSIM of SR against HR under the protocol.

    sr: (N,3,H',W') or (3,H',W') with H', W' the modcropped HR size; hr: the HR reference
    (modcropped here). ``grey``: the reference was a single-channel file (see
    :func:`is_grey_file`): score the grey level instead of the [16, 235] luma.
    ``y_channel``: ``"matlab"`` (rounded Y, the published tables) or ``"basicsr"`` (unrounded).
    Returns ``{"psnr": Tensor[N], "ssim": Tensor[N]}`` (float64); a perfect reconstruction
    has PSNR ``inf``.
    """
    hr = modcrop(hr, scale)
    if grey:
        hr = hr[..., :1, :, :]
    if sr.dim() != hr.dim() or sr.shape[-2:] != hr.shape[-2:]:
        raise SrkitError(f"evaluate: SR {tuple(sr.shape)} does not match the modcropped HR {tuple(hr.shape)}")
    psnr, ssim = psnr_ssim(sr, hr, crop=scale, y_channel=y_channel)
    return {"psnr": psnr, "ssim": ssim}


def is_grey_file(path: str | Path) -> bool:
    """Whether an image file stores one channel (grey), e.g. Set14 ``bridge.png``.

    Published tables were computed by MATLAB scripts that take a single-channel file's grey
    level as its luma (no [16, 235] range), while a grey image saved as RGB goes through
    ``rgb2ycbcr``; only the file says which (Set14 ``man.png`` is grey saved as RGB).
    """
    with Image.open(path) as image:
        # Palette images list one band too, but their palette may hold colours.
        return image.mode != "P" and image.getbands()[0] in ("L", "I", "F", "1")


def bicubic_baseline(folder: Path, scale: int,
                     y_channel: str = DEFAULT_Y_MODE) -> dict[str, dict[str, float]]:
    """Protocol PSNR/SSIM of MATLAB bicubic upsampling for each image in ``folder``."""
    paths = list_images(folder)
    upsampler = BicubicUpsampler(scale)
    results = {}
    for path in paths:
        hr = load_image(path).unsqueeze(0).to(torch.float64)
        scores = evaluate(upsampler(make_lr(hr, scale)), hr, scale, grey=is_grey_file(path),
                          y_channel=y_channel)
        results[path.name] = {name: float(value[0]) for name, value in scores.items()}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Bicubic baseline under the srkit protocol.")
    parser.add_argument("--dataset", type=Path, required=True, help="folder of HR images")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--y-channel", choices=Y_MODES, default=DEFAULT_Y_MODE,
                        help="rounded (matlab) or unrounded (basicsr) luma")
    args = parser.parse_args(argv)
    try:
        results = bicubic_baseline(args.dataset, args.scale, args.y_channel)
    except SrkitError as exc:
        parser.exit(2, f"error: {exc}\n")
    for name, scores in results.items():
        print(f"{name:20s} {scores['psnr']:7.3f} dB  {scores['ssim']:.4f}")
    mean_psnr = sum(s["psnr"] for s in results.values()) / len(results)
    mean_ssim = sum(s["ssim"] for s in results.values()) / len(results)
    print(f"{'mean':20s} {mean_psnr:7.3f} dB  {mean_ssim:.4f}  ({args.dataset}, x{args.scale}, "
          f"Y {args.y_channel})")


if __name__ == "__main__":
    main()
