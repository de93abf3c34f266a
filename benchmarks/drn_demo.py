"""Short DRN-S x8 run whose Set5 PSNR is quoted in docs/drn.md: paired, then LR-only fine-tuning.

1. ``srkit degrade`` makes LR-only images (x8 bicubic) from a folder whose HR is then never used.
2. ``srkit train drn --scale 8`` trains DRN-S x8 (published size) on the bundled photos.
3. ``srkit train drn --unpaired LR_ONLY --init <paired weights>`` fine-tunes with 30 % LR-only
   samples per batch (dual loss only for them), starting from the paired run's primal and dual
   models.

Every number printed is read from the runs' ``log.jsonl`` (Set5, Y channel, srkit protocol),
next to bicubic's on the same set; nothing is hard-coded. Stages whose output already exists
under ``--out`` are reused, so ``--control`` (the paired run continued as many steps without
LR-only data) can be added afterwards.

    python benchmarks/drn_demo.py                         # CPU: 400 + 100 iterations, batch 3
    python benchmarks/drn_demo.py --paired-iters 20000 --unpaired-iters 5000 \\
        --patch-size 384 --batch-size 32 --device cuda   # the paper's crop and batch size
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

SCALE = 8


def bicubic_scores(val: str) -> dict[str, float]:
    from srkit.nn.baseline import BicubicUpsampler
    from srkit.training.validation import Validator

    return Validator(val, SCALE, torch.device("cpu")).run(BicubicUpsampler(SCALE))


def run(command: list[str]) -> float:
    """Run an srkit command, echoing it; minutes it took."""
    print("$ srkit", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "srkit", *command], check=True)
    return (time.perf_counter() - started) / 60


def validations(run_dir: Path) -> list[dict]:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r for r in records if "val.psnr" in r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paired-iters", type=int, default=400)
    parser.add_argument("--unpaired-iters", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=3)
    parser.add_argument("--patch-size", type=int, default=64, help="HR crop (LR crop = /8)")
    parser.add_argument("--lr-only-source", default="set14",
                        help="images turned into LR-only inputs (their HR is never used)")
    parser.add_argument("--unpaired-ratio", type=float, default=0.3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--out", default="runs/drn_demo")
    parser.add_argument("--control", action="store_true",
                        help="also continue the paired run as long without LR-only data, to "
                        "separate the effect of the LR-only images from that of more steps")
    args = parser.parse_args()

    out = Path(args.out)
    lr_only, paired, unpaired = out / "lr_only", out / "paired", out / "unpaired"
    common = ["--scale", str(SCALE), "--variant", "s", "--batch-size", str(args.batch_size),
              "--patch-size", str(args.patch_size), "--device", args.device, "--val", "set5",
              "--val-every", "0", "--workers", str(args.workers)]
    minutes = 0.0
    if not lr_only.exists():
        minutes += run(["degrade", args.lr_only_source, str(lr_only), "--scale", str(SCALE)])
    if not (paired / "model.safetensors").exists():
        minutes += run(["train", "drn", *common, "--iters", str(args.paired_iters),
                        "--save-every", str(args.paired_iters), "--out", str(paired)])
    if not (unpaired / "model.safetensors").exists():
        minutes += run(["train", "drn", *common, "--iters", str(args.unpaired_iters),
                        "--save-every", str(args.unpaired_iters), "--unpaired", str(lr_only),
                        "--unpaired-ratio", str(args.unpaired_ratio),
                        "--init", str(paired / "model.safetensors"), "--out", str(unpaired)])

    if args.control and not (out / "control" / "model.safetensors").exists():
        minutes += run(["train", "drn", *common, "--iters", str(args.unpaired_iters),
                        "--save-every", str(args.unpaired_iters),
                        "--init", str(paired / "model.safetensors"), "--out", str(out / "control")])

    bicubic = bicubic_scores("set5")
    first, *_, after_paired = validations(paired)
    after_unpaired = validations(unpaired)[-1]
    print(f"\nSet5 x{SCALE}, Y channel (srkit protocol); this invocation trained for "
          f"{minutes:.1f} min")
    print("| model | training | PSNR (dB) | SSIM |\n|---|---|---|---|")
    print(f"| bicubic | - | {bicubic['psnr']:.2f} | {bicubic['ssim']:.4f} |")
    rows = [("untrained", first), (f"paired, {args.paired_iters} it", after_paired),
            (f"+ LR-only fine-tuning, {args.unpaired_iters} it", after_unpaired)]
    if args.control:
        rows.append((f"+ paired only, {args.unpaired_iters} it (control)",
                     validations(out / "control")[-1]))
    for label, record in rows:
        print(f"| DRN-S x8 | {label} | {record['val.psnr']:.2f} | {record['val.ssim']:.4f} |")


if __name__ == "__main__":
    main()
