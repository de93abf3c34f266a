"""Time batched torch PSNR/SSIM against a per-image numpy loop (the usual BasicSR-style metric).

    python benchmarks/metrics_vs_numpy.py [--batch 16] [--size 256] [--device cuda] [--threads 1]

Both compute the same protocol numbers (8-bit, BT.601 Y, 11x11 Gaussian SSIM); the script
checks that they agree and prints the time of each and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from srkit.metrics import psnr, ssim


def numpy_y(image: np.ndarray) -> np.ndarray:
    """(3,H,W) in [0, 1] -> BT.601 Y in 16..235 of the 8-bit image."""
    r, g, b = np.floor(np.clip(image, 0, 1) * 255 + 0.5) / 255
    return 16 + 65.481 * r + 128.553 * g + 24.966 * b


def numpy_psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a - b) ** 2)))


def numpy_ssim(a: np.ndarray, b: np.ndarray) -> float:
    x = np.arange(11) - 5
    window = np.exp(-(x**2) / (2 * 1.5**2))
    window /= window.sum()

    def blur(image: np.ndarray) -> np.ndarray:
        rows = np.einsum("ijk,k->ij", sliding_window_view(image, 11, axis=0), window)
        return np.einsum("ijk,k->ij", sliding_window_view(rows, 11, axis=1), window)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def numpy_scores(sr: np.ndarray, hr: np.ndarray, crop: int) -> tuple[list[float], list[float]]:
    psnrs, ssims = [], []
    for one_sr, one_hr in zip(sr, hr, strict=True):
        a = numpy_y(one_sr)[crop:-crop, crop:-crop]
        b = numpy_y(one_hr)[crop:-crop, crop:-crop]
        psnrs.append(numpy_psnr(a, b))
        ssims.append(numpy_ssim(a, b))
    return psnrs, ssims


def timed(function, repeats: int, device: torch.device):
    """(result, best wall time of ``repeats`` runs): the minimum is robust to a busy machine."""
    result = function()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--crop", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    generator = torch.Generator().manual_seed(0)
    hr = torch.rand(args.batch, 3, args.size, args.size, generator=generator)
    sr = (hr + 0.05 * torch.randn(hr.shape, generator=generator)).clamp(0, 1)
    sr_dev, hr_dev = sr.to(device), hr.to(device)

    def torch_scores():
        return psnr(sr_dev, hr_dev, crop=args.crop), ssim(sr_dev, hr_dev, crop=args.crop)

    (torch_psnr, torch_ssim), torch_time = timed(torch_scores, args.repeats, device)
    sr_np, hr_np = sr.double().numpy(), hr.double().numpy()
    (np_psnr, np_ssim), numpy_time = timed(
        lambda: numpy_scores(sr_np, hr_np, args.crop), args.repeats, device
    )

    assert np.allclose(torch_psnr.cpu().numpy(), np_psnr, atol=1e-6), "PSNR disagrees"
    assert np.allclose(torch_ssim.cpu().numpy(), np_ssim, atol=1e-6), "SSIM disagrees"
    print(f"{args.batch} images {args.size}x{args.size}, PSNR+SSIM, device {device}")
    print(f"  torch batched   {torch_time * 1000:9.1f} ms")
    print(f"  numpy per-image {numpy_time * 1000:9.1f} ms")
    print(f"  speed-up        {numpy_time / torch_time:9.1f}x")


if __name__ == "__main__":
    main()
