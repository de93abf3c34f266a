"""DRN's adaptation experiment: does LR-only fine-tuning adapt a bicubic-trained model to unknown LR?

1. ``srkit train drn`` trains DRN-S x4 on bicubic pairs made from one set of photos.
2. ``srkit degrade`` makes LR-only images of OTHER photos (the first half of ``--target``) with one
   fixed degradation the model never saw (``--degradation``, default blur + noise + JPEG), and the
   LR of a held-out part (the second half) with the same degradation and another seed.
3. ``srkit train drn --unpaired LR_ONLY --init PAIRED`` fine-tunes on them (dual loss only for the
   LR-only ~30 % of each batch), once per reading of the LR-only loss (``--unpaired-targets
   levels`` and ``chained``), against a control that continues paired bicubic training for the
   same iterations.
4. Every model is scored on the held-out degraded LR against its HR (PSNR/SSIM on Y, the srkit
   protocol: modcrop, 8-bit SR, ``scale`` border), with bicubic upsampling as the floor.

Fine-tuning (and, with ``--pretrain-per-seed``, the paired training) is repeated per seed; the
table gives mean ± standard deviation over seeds and the gain of each fine-tune over the control
and over the paired model it started from. Every stage whose weights exist under ``--out`` is
reused, so an interrupted run continues.

    python benchmarks/drn_adaptation.py                     # CPU budget, 3 seeds
    python benchmarks/drn_adaptation.py --scale-up --device cuda   # published DRN-S, longer runs

The CPU budget keeps DRN-S x4's width (16 features) but 4 instead of 30 RCABs per up block
(``--n-blocks 30`` is the published size); ``--scale-up`` trains the published DRN-S.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

SCALE = 4
DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
#: (option, CPU default, --scale-up value)
BUDGETS = {
    "paired_iters": (600, 20000),
    "adapt_iters": (150, 5000),
    "batch_size": (4, 16),
    "patch_size": (64, 192),
    "test_count": (8, 34),
    "n_blocks": (4, 30),  # RCABs per up block; 30 = DRN-S's published size
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-up", action="store_true", help="GPU budget: " + ", ".join(
        f"{name.replace('_', '-')} {values[1]}" for name, values in BUDGETS.items()))
    for name, (cpu, _) in BUDGETS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None,
                            help=f"default {cpu} (CPU) / {BUDGETS[name][1]} (--scale-up)")
    parser.add_argument("--seeds", default="0,1,2", help="fine-tuning seeds")
    parser.add_argument("--pretrain-per-seed", action="store_true",
                        help="train a paired model per seed (default: one, shared)")
    parser.add_argument("--train-data", default="photos", help="HR photos of the paired training")
    parser.add_argument("--target", default=str(DATASETS / "BSD68"),
                        help="other photos: first half LR-only, second half held out for scoring")
    parser.add_argument("--degradation", default="blur-noise-jpeg:sigma=2,noise=5,q=75",
                        help="the fixed unknown degradation of the target photos")
    parser.add_argument("--learning-rate", type=float, default=4e-4, help="paired training learning rate")
    parser.add_argument("--adapt-learning-rate", type=float, default=1e-4, help="fine-tuning learning rate")
    parser.add_argument("--unpaired-ratio", type=float, default=0.3)
    parser.add_argument("--targets", default="levels,chained",
                        help="readings of the LR-only loss to fine-tune with (--unpaired-targets)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="runs/drn_adaptation")
    args = parser.parse_args()
    for name, (cpu, gpu) in BUDGETS.items():
        if getattr(args, name) is None:
            setattr(args, name, gpu if args.scale_up else cpu)
    return args


def srkit(command: list[str]) -> float:
    """Run an srkit command the way a user does, echoing it; seconds it took."""
    print("$ srkit", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "srkit", *command], check=True)
    return time.perf_counter() - started


def link_images(paths: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
    return folder


def make_target_sets(args: argparse.Namespace, out: Path) -> tuple[Path, Path, Path]:
    """``(lr_only, test_hr, test_lr)``: degraded halves of the target photos, and a tiny val set."""
    from srkit.imageio import list_images

    photos = list_images(args.target)
    half = len(photos) // 2
    lr_source = link_images(photos[:half], out / "target_lr_only_hr")
    test_hr = link_images(photos[half:][: args.test_count], out / "test_hr")
    lr_only, test_lr = out / "lr_only", out / "test_lr"
    for source, target, seed in ((lr_source, lr_only, 100), (test_hr, test_lr, 200)):
        if not target.exists():
            srkit(["degrade", str(source), str(target), "--scale", str(SCALE),
                   "--degradation", args.degradation, "--seed", str(seed)])
    return lr_only, test_hr, test_lr


def tiny_val(out: Path, test_hr: Path) -> Path:
    """One 64x64 crop: the trainer's own (bicubic) validation is not what is measured here."""
    from srkit.imageio import list_images, load_image, save_image

    folder = out / "val_crop"
    if not folder.exists():
        save_image(load_image(list_images(test_hr)[0])[:, :64, :64], folder / "crop.png")
    return folder


def train(args: argparse.Namespace, run: Path, extra: list[str], iters: int, seed: int,
          learning_rate: float) -> dict:
    """Train (unless ``run`` has weights); the run's seconds and iterations/s from its log."""
    if not (run / "model.safetensors").exists():
        srkit(["train", "drn", "--scale", str(SCALE), "--variant", "s",
               "--n-blocks", str(args.n_blocks), "--batch-size", str(args.batch_size),
               "--patch-size", str(args.patch_size), "--iters", str(iters),
               "--learning-rate", str(learning_rate),
               "--seed", str(seed), "--device", args.device, "--workers", "0",
               "--val", str(args.val), "--val-every", "0", "--save-every", str(iters),
               "--log-every", str(max(1, iters // 10)), "--out", str(run), *extra])
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    speeds = [r["it_per_s"] for r in records if "it_per_s" in r]
    return {"it_per_s": statistics.median(speeds) if speeds else float("nan")}


@torch.no_grad()
def score(model: torch.nn.Module, test_hr: Path, test_lr: Path) -> dict[str, float]:
    """Mean protocol PSNR/SSIM (Y) of ``model`` on the held-out degraded LR."""
    from srkit.evaluation.protocol import evaluate, is_grey_file, modcrop
    from srkit.imageio import list_images, load_image

    psnrs, ssims = [], []
    for hr_path in list_images(test_hr):
        hr = modcrop(load_image(hr_path), SCALE).unsqueeze(0)
        lr = load_image(test_lr / f"{hr_path.stem}.png").unsqueeze(0)
        sr = model(lr).float().clamp(0, 1)
        scores = evaluate(sr, hr, SCALE, grey=is_grey_file(hr_path))
        psnrs.append(float(scores["psnr"][0]))
        ssims.append(float(scores["ssim"][0]))
    return {"psnr": statistics.fmean(psnrs), "ssim": statistics.fmean(ssims)}


def score_run(run: Path, test_hr: Path, test_lr: Path) -> dict[str, float]:
    from srkit.weights.files import load_model

    cache = run / "adaptation_score.json"
    if cache.exists():
        return json.loads(cache.read_text())
    result = score(load_model(run / "model.safetensors"), test_hr, test_lr)
    cache.write_text(json.dumps(result))
    return result


def lr_images(lr_dir: Path, hr_dir: Path, count: int = 8) -> dict[str, list[torch.Tensor]]:
    """The first LR-only images, and (diagnostic only) the bicubic LR of the same photos."""
    from srkit.evaluation.protocol import make_lr
    from srkit.imageio import list_images, load_image

    paths = list_images(hr_dir)[:count]
    return {
        "target LR": [load_image(lr_dir / f"{p.stem}.png")[None] for p in paths],
        "bicubic LR": [make_lr(load_image(p)[None], SCALE) for p in paths],
    }


@torch.no_grad()
def closed_loop_error(run: Path, images: list[torch.Tensor]) -> dict[str, float]:
    """Mean L1 (8-bit levels) between LR images and their SR brought back down by the run's
    dual models: ``chained`` (every dual in turn, the final SR to the input) and ``lowest``
    (the lowest dual, the 2x output to the input): what the LR-only loss can still reduce."""
    from srkit.weights.files import load_model, read_extras
    from srkit_drn.arch import DualModels

    model = load_model(run / "model.safetensors")
    duals = DualModels(model.scale, model.n_feats)
    duals.load_state_dict(read_extras(run / "model.safetensors")["dual"])
    chained, lowest = [], []
    for lr in images:
        levels = model(lr, all_levels=True)
        image = levels[-1]
        for dual in reversed(duals):
            image = dual(image * 255) / 255
        chained.append(float((image - lr).abs().mean()) * 255)
        lowest.append(float((duals[0](levels[1] * 255) / 255 - lr).abs().mean()) * 255)
    return {"chained": statistics.fmean(chained), "lowest": statistics.fmean(lowest)}


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def print_table(rows: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    n = len(args.seed_list)
    print(f"\nHeld-out target photos ({args.test_count} of {Path(args.target).name}, x{SCALE}, "
          f"LR by {args.degradation}), PSNR/SSIM on Y, mean ± std over {n} seeds")
    print("| model | PSNR (dB) | SSIM |\n|---|---|---|")
    for label, scores in rows.items():
        p, ps = mean_std([s["psnr"] for s in scores])
        q, qs = mean_std([s["ssim"] for s in scores])
        print(f"| {label} | {p:.3f} ± {ps:.3f} | {q:.4f} ± {qs:.4f} |")
    print("\nGain (dB PSNR, per seed then mean ± std):")
    for label, scores in rows.items():
        if not label.startswith("+ LR-only"):
            continue
        for reference in ("+ paired only (control)", "paired (before)"):
            gains = [a["psnr"] - b["psnr"] for a, b in zip(scores, rows[reference], strict=True)]
            m, s = mean_std(gains)
            print(f"  {label} vs {reference}: {', '.join(f'{g:+.3f}' for g in gains)}"
                  f" -> {m:+.3f} ± {s:.3f}")


def main() -> None:
    args = parse_args()
    args.seed_list = [int(s) for s in args.seeds.split(",")]
    readings = [t for t in args.targets.split(",") if t]
    out = Path(args.out)
    started = time.perf_counter()
    lr_only, test_hr, test_lr = make_target_sets(args, out)
    args.val = tiny_val(out, test_hr)

    from srkit.nn.baseline import BicubicUpsampler

    bicubic = score(BicubicUpsampler(SCALE), test_hr, test_lr)
    rows: dict[str, list[dict[str, float]]] = {"bicubic": [], "paired (before)": [],
                                                "+ paired only (control)": []}
    rows.update({f"+ LR-only, {reading}": [] for reading in readings})
    speeds = []
    for seed in args.seed_list:
        paired = out / (f"paired_s{seed}" if args.pretrain_per_seed else "paired")
        speeds.append(train(args, paired, ["--data", args.train_data], args.paired_iters,
                            seed if args.pretrain_per_seed else args.seed_list[0], args.learning_rate))
        init = ["--data", args.train_data, "--init", str(paired / "model.safetensors")]
        control = out / f"control_s{seed}"
        speeds.append(train(args, control, init, args.adapt_iters, seed, args.adapt_learning_rate))
        rows["bicubic"].append(bicubic)
        rows["paired (before)"].append(score_run(paired, test_hr, test_lr))
        rows["+ paired only (control)"].append(score_run(control, test_hr, test_lr))
        for reading in readings:
            run = out / f"adapt_{reading}_s{seed}"
            speeds.append(train(args, run, [*init, "--unpaired", str(lr_only), "--unpaired-ratio",
                                            str(args.unpaired_ratio), "--unpaired-targets", reading],
                                args.adapt_iters, seed, args.adapt_learning_rate))
            rows[f"+ LR-only, {reading}"].append(score_run(run, test_hr, test_lr))
    print_table(rows, args)
    seed = args.seed_list[0]
    print(f"\nClosed-loop error |D(P(x)) - x| (mean, 8-bit levels; seed {seed}) on 8 LR-only "
          "images, and on the bicubic LR of the same photos (never trained on; for comparison):")
    images = lr_images(lr_only, out / "target_lr_only_hr")
    paired = out / (f"paired_s{seed}" if args.pretrain_per_seed else "paired")
    for label, run in [("paired (before)", paired), ("+ paired only (control)", out / f"control_s{seed}"),
                       *[(f"+ LR-only, {r}", out / f"adapt_{r}_s{seed}") for r in readings]]:
        cells = []
        for kind, lrs in images.items():
            errors = closed_loop_error(run, lrs)
            cells.append(f"{kind}: chained {errors['chained']:.2f}, lowest dual {errors['lowest']:.2f}")
        print(f"  {label}: " + "; ".join(cells))
    it_s = statistics.median(s["it_per_s"] for s in speeds)
    print(f"\nDRN-S x{SCALE} (n_blocks {args.n_blocks}), batch {args.batch_size}, HR crop "
          f"{args.patch_size}; paired {args.paired_iters} it (learning rate {args.learning_rate}), "
          f"each fine-tune {args.adapt_iters} it (learning rate {args.adapt_learning_rate}, "
          f"unpaired ratio {args.unpaired_ratio}); "
          f"median {it_s:.2f} it/s; this invocation took {(time.perf_counter() - started) / 60:.1f} "
          f"min on {os.cpu_count()} CPU(s) / device {args.device}")


if __name__ == "__main__":
    main()
