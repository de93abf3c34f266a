"""Short SRResNet training run whose before/after Set5 PSNR is quoted in docs/srgan.md.

Trains ``srkit train srresnet`` (x4, MSE, the paper's SRResNet-MSE) on the bundled photos and
prints the validation PSNR/SSIM of the first and last validation, read from the run's
``log.jsonl``, next to bicubic's on the same set. Nothing is hard-coded: every number printed
was measured by this run.

    python benchmarks/srgan_demo.py                      # CPU: 300 iterations, batch 4
    python benchmarks/srgan_demo.py --iters 20000 --batch-size 16 --device cuda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch


def bicubic_scores(val: str, scale: int) -> dict[str, float]:
    from srkit.baseline import BicubicUpsampler
    from srkit.training.validation import Validator

    return Validator(val, scale, torch.device("cpu")).run(BicubicUpsampler(scale))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--val", default="set5")
    parser.add_argument("--out", default="runs/srresnet_demo")
    args = parser.parse_args()

    out = Path(args.out)
    command = [sys.executable, "-m", "srkit", "train", "srresnet", "--scale", "4",
               "--iters", str(args.iters), "--batch-size", str(args.batch_size),
               "--patch-size", str(args.patch_size), "--device", args.device,
               "--val", args.val, "--val-every", str(max(args.iters // 3, 1)),
               "--save-every", str(args.iters), "--out", str(out)]
    print("$", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    minutes = (time.perf_counter() - started) / 60

    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    validations = [r for r in records if "val.psnr" in r]
    bicubic = bicubic_scores(args.val, 4)
    print(f"\n{args.val} x4, Y channel (srkit protocol); run took {minutes:.1f} min")
    print("| model | iteration | PSNR (dB) | SSIM |\n|---|---|---|---|")
    print(f"| bicubic | - | {bicubic['psnr']:.2f} | {bicubic['ssim']:.4f} |")
    for record in validations:
        print(f"| SRResNet | {record['iteration']} | {record['val.psnr']:.2f} | "
              f"{record['val.ssim']:.4f} |")


if __name__ == "__main__":
    main()
