"""Time srkit's batched PSNR+SSIM against BasicSR-style per-image loops, in one run.

    python benchmarks/metrics_vs_numpy.py [--batch 16] [--size 256] [--repeats 15]
        [--y-channel basicsr|matlab] [--device cpu|cuda] [--threads 2] [--real-images]

The per-image loops compute what BasicSR's ``calculate_psnr``/``calculate_ssim`` compute with
``crop_border`` and ``test_y_channel=True`` on uint8 images: float64 BT.601 Y (rounded in the
``matlab`` mode), MSE, and SSIM from a 2-D 11x11 Gaussian window over the valid region. The
``cv2`` loop is BasicSR's own filtering path (``cv2.filter2D``; needs opencv-python-headless,
skipped with a note otherwise); the ``scipy`` loop filters with two 1-D ``scipy.ndimage``
passes (skipped if scipy is missing); the ``numpy`` loop (1-D passes over sliding windows)
always runs. The loops run on one thread (``OPENBLAS_NUM_THREADS=1`` unless set).

srkit's batched ``psnr_ssim`` is timed twice, called with torch at one thread and at
``--threads`` (default 2, as ``OMP_NUM_THREADS=2`` would set it), and once image by image.
Every variant is timed round-robin and the median of ``--repeats`` runs is printed, with the
speed-up of the batched call over each loop and the largest PSNR/SSIM difference against it;
the last line gives the two ratios in question: batched srkit against the fastest per-image
loop (both on one thread), and srkit called at ``--threads`` against at one thread. srkit gets
the float (N,3,H,W) tensors a model returns; the loops get the uint8 (H,W,3) BGR arrays
BasicSR expects, made outside the timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: the loops run on one thread

import numpy as np  # noqa: E402
import torch  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from srkit.metrics import psnr_ssim  # noqa: E402
from srkit.metrics.pairs import prepare_pair  # noqa: E402
from srkit.metrics.ssim import ssim_of_planes  # noqa: E402

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def gaussian_window() -> np.ndarray:
    x = np.arange(11) - 5
    line = np.exp(-(x**2) / (2 * 1.5**2))
    line /= line.sum()
    return np.outer(line, line)


def luma(bgr: np.ndarray, rounded: bool) -> np.ndarray:
    """uint8 (H,W,3) BGR -> float64 Y in 16..235, rounded like MATLAB's uint8 rgb2ycbcr if asked."""
    y = 16 + bgr.astype(np.float64) @ np.array([24.966, 128.553, 65.481]) / 255
    return np.floor(y + 0.5) if rounded else y


def ssim_from_filter(a: np.ndarray, b: np.ndarray, blur: Callable[[np.ndarray], np.ndarray]) -> float:
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) / ((mu_a**2 + mu_b**2 + C1) * (var_a + var_b + C2))
    return float(ssim_map.mean())


def blur_numpy(image: np.ndarray) -> np.ndarray:
    line = gaussian_window()[5] / gaussian_window()[5].sum()
    rows = np.einsum("ijk,k->ij", sliding_window_view(image, 11, axis=0), line)
    return np.einsum("ijk,k->ij", sliding_window_view(rows, 11, axis=1), line)


def filters() -> dict[str, Callable[[np.ndarray], np.ndarray] | str]:
    """Per-image 'valid' Gaussian filters by library; a string says why one is unavailable."""
    window = gaussian_window()
    found: dict[str, Callable[[np.ndarray], np.ndarray] | str] = {}
    try:
        import cv2

        found["cv2"] = lambda image: cv2.filter2D(image, -1, window)[5:-5, 5:-5]
    except ImportError:
        found["cv2"] = "skipped: opencv-python-headless is not installed"
    try:
        from scipy import ndimage

        line = window[5] / window[5].sum()

        def separable(image: np.ndarray) -> np.ndarray:
            rows = ndimage.correlate1d(image, line, axis=0, mode="nearest")
            return ndimage.correlate1d(rows, line, axis=1, mode="nearest")[5:-5, 5:-5]

        found["scipy"] = separable
    except ImportError:
        found["scipy"] = "skipped: scipy is not installed"
    found["numpy"] = blur_numpy
    return found


def per_image_scores(sr: np.ndarray, hr: np.ndarray, crop: int, rounded: bool,
                     blur: Callable[[np.ndarray], np.ndarray]) -> tuple[list[float], list[float]]:
    psnrs, ssims = [], []
    for one_sr, one_hr in zip(sr, hr, strict=True):
        a = luma(one_sr, rounded)[crop:-crop, crop:-crop]
        b = luma(one_hr, rounded)[crop:-crop, crop:-crop]
        psnrs.append(float(10 * np.log10(255**2 / np.mean((a - b) ** 2))))
        ssims.append(ssim_from_filter(a, b, blur))
    return psnrs, ssims


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def round_robin(variants: dict[str, Callable[[], Any]], repeats: int,
                device: torch.device) -> tuple[dict[str, Any], dict[str, float]]:
    """(last result, median seconds) of each variant, timed in turns after one warm-up each."""
    results = {name: run() for name, run in variants.items()}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            sync(device)
            start = time.perf_counter()
            results[name] = run()
            sync(device)
            seconds[name].append(time.perf_counter() - start)
    return results, {name: statistics.median(times) for name, times in seconds.items()}


def float32_error_on_bundled_sets(y_channel: str) -> tuple[float, str]:
    """Largest |SSIM(float32 filter) - SSIM(float64)| over Set5 + Set14 x4 bicubic, and where."""
    from pathlib import Path

    import srkit
    from srkit.evaluation.protocol import make_lr, modcrop
    from srkit.imageio import list_images, load_image
    from srkit.nn.baseline import BicubicUpsampler

    worst, where = 0.0, ""
    for dataset in ("Set5", "Set14"):
        for path in list_images(Path(srkit.__file__).parent / "data" / "bundled" / dataset):
            hr = modcrop(load_image(path).unsqueeze(0), 4)
            sr = BicubicUpsampler(4)(make_lr(hr, 4)).clamp(0, 1)
            x, y = prepare_pair(sr, hr, crop=4, y_channel=y_channel, name=path.name)
            error = float((ssim_of_planes(x, y, dtype=torch.float32) - ssim_of_planes(x, y)).abs().max())
            if error > worst:
                worst, where = error, f"{dataset}/{path.name}"
    return worst, where


def at_threads(threads: int, run: Callable[[], Any]) -> Callable[[], Any]:
    """``run`` called with torch set to ``threads`` intra-op threads, as a caller would have it."""
    def call() -> Any:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return run()
        finally:
            torch.set_num_threads(before)
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--crop", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--y-channel", choices=("basicsr", "matlab"), default="basicsr")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads of the caller compared with one thread")
    parser.add_argument("--real-images", action="store_true",
                        help="also print the float32 filter's SSIM error on bundled Set5/Set14 x4")
    args = parser.parse_args()
    device = torch.device(args.device)
    rounded = args.y_channel == "matlab"

    generator = torch.Generator().manual_seed(0)
    hr = torch.rand(args.batch, 3, args.size, args.size, generator=generator)
    sr = (hr + 0.05 * torch.randn(hr.shape, generator=generator)).clamp(0, 1)
    sr_dev, hr_dev = sr.to(device), hr.to(device)

    def as_bgr_uint8(images: torch.Tensor) -> np.ndarray:
        levels = torch.floor(images.double() * 255 + 0.5).to(torch.uint8)
        return np.ascontiguousarray(levels.flip(1).permute(0, 2, 3, 1).numpy())

    sr_np, hr_np = as_bgr_uint8(sr), as_bgr_uint8(hr)
    planes = prepare_pair(sr_dev, hr_dev, crop=args.crop, y_channel=args.y_channel, name="bench")

    def batched() -> tuple[torch.Tensor, torch.Tensor]:
        return psnr_ssim(sr_dev, hr_dev, crop=args.crop, y_channel=args.y_channel)

    def image_by_image() -> tuple[torch.Tensor, torch.Tensor]:
        scores = [psnr_ssim(sr_dev[i], hr_dev[i], crop=args.crop, y_channel=args.y_channel)
                  for i in range(args.batch)]
        return torch.cat([p for p, _ in scores]), torch.cat([s for _, s in scores])

    ours, many = "srkit batched, 1 thread", f"srkit batched, {args.threads} threads"
    float32 = "srkit SSIM, float32 filter (unused)"
    variants: dict[str, Callable[[], Any]] = {
        ours: at_threads(1, batched),
        many: at_threads(args.threads, batched),
        "srkit image by image, 1 thread": at_threads(1, image_by_image),
        float32: at_threads(1, lambda: ssim_of_planes(*planes, dtype=torch.float32)),
    }
    skipped = []
    for library, blur in filters().items():
        if isinstance(blur, str):
            skipped.append(f"{library} loop {blur}")
            continue
        variants[f"{library} per-image loop"] = (
            lambda blur=blur: per_image_scores(sr_np, hr_np, args.crop, rounded, blur))
    results, seconds = round_robin(variants, args.repeats, device)

    ours_psnr, ours_ssim = (t.cpu().double().numpy() for t in results[ours])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.batch} images {args.size}x{args.size}, PSNR+SSIM, Y {args.y_channel}, crop "
          f"{args.crop}, device {device}, torch {torch.__version__}, median of {args.repeats}, "
          f"load average {load:.1f}")
    for name in (ours, many, "srkit image by image, 1 thread"):
        got_psnr, got_ssim = (t.cpu().double().numpy() for t in results[name])
        print(f"  {name:38s} {seconds[name] * 1000:9.1f} ms  max |diff| to batched PSNR "
              f"{np.abs(got_psnr - ours_psnr).max():.1e} dB, SSIM {np.abs(got_ssim - ours_ssim).max():.1e}")
    float32_error = np.abs(results[float32].cpu().numpy() - ours_ssim).max()
    print(f"  {float32:38s} {seconds[float32] * 1000:9.1f} ms  "
          f"(SSIM only; max |diff| to float64 {float32_error:.1e})")
    loops = [name for name in variants if name.endswith("loop")]
    for name in loops:
        loop_psnr, loop_ssim = results[name]
        psnr_diff = np.abs(np.asarray(loop_psnr) - ours_psnr).max()
        ssim_diff = np.abs(np.asarray(loop_ssim) - ours_ssim).max()
        print(f"  {name:38s} {seconds[name] * 1000:9.1f} ms  srkit {seconds[name] / seconds[ours]:5.2f}x "
              f"faster; max |diff| PSNR {psnr_diff:.1e} dB, SSIM {ssim_diff:.1e}")
    for line in skipped:
        print(f"  {line}")
    fastest = min(loops, key=lambda name: seconds[name])
    print(f"batched srkit vs the fastest per-image loop ({fastest}), one thread: "
          f"{seconds[fastest] / seconds[ours]:.2f}x faster; srkit called at {args.threads} threads "
          f"vs 1: {seconds[ours] / seconds[many]:.2f}x the speed")
    if args.real_images:
        worst, where = float32_error_on_bundled_sets(args.y_channel)
        print(f"  float32 filter on Set5+Set14 x4 bicubic: max |SSIM diff| to float64 {worst:.1e} "
              f"({where})")


if __name__ == "__main__":
    main()
