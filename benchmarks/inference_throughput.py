"""Inference throughput of the shipped generators, and batched vs per-image metrics, in one run.

Part 1: output megapixels per second of SRResNet x4 and DRN-S x4/x8 (random weights: speed
does not depend on their values) at a few LR sizes, per variant:

    eager          fp32, contiguous (the baseline every ratio is relative to)
    bf16           autocast bfloat16
    channels_last  fp32, model and input in channels_last memory format
    compile        fp32, torch.compile (compilation happens in the untimed warm-up)
    fast           all three together: bf16 autocast, channels_last and torch.compile

On CUDA it also gives achieved TFLOP/s (FLOPs counted by torch.utils.flop_counter) as a
fraction of the GPU's dense peak for that precision (fp32 runs are compared with the TF32
tensor-core peak when TF32 matmuls are allowed, else the plain fp32 peak).

Part 2: srkit.metrics' batched torch PSNR/SSIM against a straightforward per-image numpy
implementation (the way many SR repositories compute them), on the same images.

    python benchmarks/inference_throughput.py --device cpu --sizes 32,64 --repeats 3
    python benchmarks/inference_throughput.py --device cuda --sizes 128,256,512
    python benchmarks/inference_throughput.py --device cuda --sizes 270x480 \
        --models srresnet:4,drn-s:4 --variants eager,fast      # x4 to 1080p output
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from srkit.errors import SrkitError
from srkit.inference import autocast_context
from srkit.metrics import psnr, ssim
from srkit.nn.models import build_generator

MODELS = (("srresnet", 4), ("drn-s", 4), ("drn-s", 8))
VARIANTS = ("eager", "bf16", "channels_last", "compile", "fast")

#: dense peak TFLOP/s by device-name fragment: (fp32 CUDA cores, tf32 tensor cores, bf16/fp16)
GPU_PEAKS = {
    "H200": (67.0, 494.7, 989.4),
    "H100 80GB HBM3": (67.0, 494.7, 989.4),
    "H100 PCIe": (51.2, 378.0, 756.0),
    "A100": (19.5, 156.0, 312.0),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prepare(arch: str, scale: int, variant: str, device: torch.device) -> tuple[nn.Module, str]:
    model = build_generator(arch, scale=scale).to(device).eval()
    if variant in ("channels_last", "fast"):
        model = model.to(memory_format=torch.channels_last)
    if variant in ("compile", "fast"):
        model = torch.compile(model)
    return model, ("bf16" if variant in ("bf16", "fast") else "fp32")


def forward_seconds(model: nn.Module, lr: Tensor, precision: str) -> float:
    """Wall seconds of one synchronised forward pass."""
    with torch.no_grad(), autocast_context(precision, lr.device):
        synchronize(lr.device)
        start = time.perf_counter()
        model(lr)
        synchronize(lr.device)
    return time.perf_counter() - start


def time_variants(arch: str, scale: int, lr: Tensor, variants: list[str], repeats: int,
                  warmup: int) -> dict[str, float | str]:
    """Median seconds per forward pass of each variant (or the reason it failed).

    The variants are timed round-robin (one pass of each per repeat), so a busy host slows
    them all alike instead of skewing the ratios towards whichever ran in a quiet moment.
    """
    prepared: dict[str, tuple[nn.Module, Tensor, str]] = {}
    results: dict[str, float | str] = {}
    for variant in variants:
        try:
            model, precision = prepare(arch, scale, variant, lr.device)
            x = lr.to(memory_format=torch.channels_last) if variant in ("channels_last", "fast") else lr
            for _ in range(warmup):  # includes compilation for the compile variant
                forward_seconds(model, x, precision)
            prepared[variant] = (model, x, precision)
        except Exception as exc:  # a variant that cannot run here is reported, not fatal
            results[variant] = str(exc).strip().splitlines()[0][:80]
    times: dict[str, list[float]] = {variant: [] for variant in prepared}
    for _ in range(repeats):
        for variant, (model, x, precision) in prepared.items():
            times[variant].append(forward_seconds(model, x, precision))
    results.update({variant: statistics.median(t) for variant, t in times.items()})
    return results


def count_flops(arch: str, scale: int, lr: Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    model = build_generator(arch, scale=scale).to(lr.device).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(lr)
    return counter.get_total_flops()


def peak_tflops(device: torch.device, precision: str) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for fragment, (fp32, tf32, half) in GPU_PEAKS.items():
        if fragment in name:
            if precision != "fp32":
                return half
            return tf32 if torch.backends.cudnn.allow_tf32 else fp32
    return None


def model_rows(args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    for arch, scale in args.models:
        try:
            build_generator(arch, scale=scale)
        except SrkitError as exc:
            print(f"skip {arch} x{scale}: {exc}")
            continue
        for height, width in args.sizes:
            size = f"{height}x{width}"
            lr = torch.rand(args.batch, 3, height, width, device=device)
            flops = count_flops(arch, scale, lr) if device.type == "cuda" else None
            timings = time_variants(arch, scale, lr, args.variants, args.repeats, args.warmup)
            eager = timings.get("eager")
            for variant in args.variants:
                row: dict[str, Any] = {"model": f"{arch} x{scale}", "lr_size": size,
                                       "variant": variant}
                seconds = timings[variant]
                if isinstance(seconds, str):
                    row["error"] = seconds
                else:
                    mpix = args.batch * height * width * scale**2 / seconds / 1e6
                    row.update(ms=1000 * seconds, mpix_per_s=mpix,
                               ratio=eager / seconds if isinstance(eager, float) else None)
                    if flops is not None:
                        peak = peak_tflops(device, "bf16" if variant in ("bf16", "fast") else "fp32")
                        row["tflops"] = flops / seconds / 1e12
                        row["peak_fraction"] = row["tflops"] / peak if peak else None
                rows.append(row)
                print(format_model_row(row), flush=True)
    return rows


def format_model_row(row: dict[str, Any]) -> str:
    head = f"| {row['model']} | {row['lr_size']} | {row['variant']} |"
    if "error" in row:
        return f"{head} failed: {row['error']} | | | |"
    ratio = f"{row['ratio']:.2f}x" if row.get("ratio") else "-"
    gpu = ""
    if "tflops" in row:
        fraction = f"{100 * row['peak_fraction']:.1f}%" if row.get("peak_fraction") else "?"
        gpu = f" {row['tflops']:.1f} | {fraction} |"
    return f"{head} {row['ms']:.1f} | {row['mpix_per_s']:.3f} | {ratio} |{gpu}"


# ---- Part 2: the per-image numpy metrics many SR repositories use -------------------------

def numpy_y(image: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 -> BT.601 luma in [16, 235] as float64."""
    rgb = image.astype(np.float64) / 255.0
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def numpy_psnr(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    a, b = numpy_y(sr)[crop:-crop, crop:-crop], numpy_y(hr)[crop:-crop, crop:-crop]
    return 10 * math.log10(255.0**2 / np.mean((a - b) ** 2))


def _gaussian_filter_valid(plane: np.ndarray, window: np.ndarray) -> np.ndarray:
    rows = np.apply_along_axis(lambda r: np.convolve(r, window, mode="valid"), 1, plane)
    return np.apply_along_axis(lambda c: np.convolve(c, window, mode="valid"), 0, rows)


def numpy_ssim(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    x, y = numpy_y(sr)[crop:-crop, crop:-crop], numpy_y(hr)[crop:-crop, crop:-crop]
    t = np.arange(11) - 5
    window = np.exp(-(t**2) / (2 * 1.5**2))
    window /= window.sum()
    mu_x, mu_y = _gaussian_filter_valid(x, window), _gaussian_filter_valid(y, window)
    var_x = _gaussian_filter_valid(x * x, window) - mu_x**2
    var_y = _gaussian_filter_valid(y * y, window) - mu_y**2
    cov = _gaussian_filter_valid(x * y, window) - mu_x * mu_y
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def metric_rows(args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)
    hr = torch.rand(args.metric_images, 3, args.metric_size, args.metric_size, generator=generator)
    sr = (hr + 0.05 * torch.randn(hr.shape, generator=generator)).clamp(0, 1)
    to_uint8 = [(t.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8) for t in (*sr, *hr)]
    sr_np, hr_np = to_uint8[: len(sr)], to_uint8[len(sr):]
    sr_dev, hr_dev = sr.to(device), hr.to(device)
    crop = 4

    def torch_metrics() -> tuple[Tensor, Tensor]:
        out = (psnr(sr_dev, hr_dev, crop=crop, y_channel="basicsr"),  # numpy_y is unrounded
               ssim(sr_dev, hr_dev, crop=crop, y_channel="basicsr"))
        synchronize(device)
        return out

    def numpy_metrics() -> tuple[list[float], list[float]]:
        return ([numpy_psnr(a, b, crop) for a, b in zip(sr_np, hr_np, strict=True)],
                [numpy_ssim(a, b, crop) for a, b in zip(sr_np, hr_np, strict=True)])

    torch_metrics()  # warm-up (CUDA context, kernels)
    torch_seconds, (t_psnr, t_ssim) = best_of(torch_metrics, args.repeats)
    numpy_seconds, (n_psnr, n_ssim) = best_of(numpy_metrics, 1)
    return [{
        "images": args.metric_images, "size": args.metric_size,
        "torch_s": torch_seconds, "numpy_s": numpy_seconds, "speedup": numpy_seconds / torch_seconds,
        "max_psnr_diff": float(np.max(np.abs(t_psnr.cpu().numpy() - np.array(n_psnr)))),
        "max_ssim_diff": float(np.max(np.abs(t_ssim.cpu().numpy() - np.array(n_ssim)))),
    }]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", default="64,128",
                        help="LR sizes, comma-separated: N (square) or HxW, e.g. 270x480")
    parser.add_argument("--models", default=",".join(f"{a}:{s}" for a, s in MODELS),
                        help="generators as arch:scale, comma-separated")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--metric-images", type=int, default=8)
    parser.add_argument("--metric-size", type=int, default=256)
    parser.add_argument("--skip-models", action="store_true")
    args = parser.parse_args()
    args.sizes = [tuple(int(n) for n in (s.split("x") if "x" in s else (s, s)))
                  for s in args.sizes.split(",")]
    args.models = [(m.split(":")[0], int(m.split(":")[1])) for m in args.models.split(",") if m]
    args.variants = [v for v in args.variants.split(",") if v]
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch}; "
          f"{args.repeats} timed runs after {args.warmup} warm-up\n")
    if not args.skip_models:
        gpu = " TFLOP/s | of peak |" if device.type == "cuda" else ""
        print(f"| model | LR size | variant | ms/batch | output MP/s | vs eager |{gpu}")
        print("|---|---:|---|---:|---:|---:|" + ("---:|---:|" if gpu else ""))
        model_rows(args, device)
    (row,) = metric_rows(args, device)
    print(f"\nmetrics on {row['images']} images of {row['size']}x{row['size']} (PSNR + SSIM, Y, "
          f"crop 4): batched torch {1000 * row['torch_s']:.1f} ms, per-image numpy "
          f"{1000 * row['numpy_s']:.1f} ms -> {row['speedup']:.1f}x; max |diff| PSNR "
          f"{row['max_psnr_diff']:.2e} dB, SSIM {row['max_ssim_diff']:.2e}")


if __name__ == "__main__":
    main()
