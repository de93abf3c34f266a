"""DRN's adaptation experiment: can LR-only fine-tuning adapt a bicubic-trained model to new LR?

The paper's setting: paired bicubic data plus LR-only images made by a degradation the paired
data never had, scored on that degradation. For each target degradation (``--degradation``,
repeatable; default ``nearest``, ``bd`` and blur + noise + JPEG) this script runs, through the
CLI as a user would:

1. ``srkit train drn`` on bicubic pairs of the ``--paired`` photos (the "paired model"); it is
   first scored on the bicubic LR of the held-out photos, against bicubic upsampling, to show it
   is worth adapting;
2. ``srkit degrade`` of the ``--target`` photos: the first half becomes LR-only images, the
   second half the held-out LR (another noise seed), both by the target degradation;
3. from the paired model's primal and dual weights, per seed and for the same iterations:
   the **control** (paired bicubic training continued, no LR-only data), the **oracle** (paired
   training on the HR of the LR-only photos degraded by the target degradation: what a user
   with HR for the target would get) and each **variant** of LR-only fine-tuning
   (``--unpaired`` with a ``--dual-update`` and an ``--unpaired-targets`` reading);
4. every model scored on the held-out LR against its HR (PSNR/SSIM on Y, srkit protocol).

One table per degradation: mean ± std over seeds, the gain over the control, and the share of
the oracle's gain over the control that a variant reaches. The last line names the best variant.
Every stage whose weights exist under ``--out`` is reused, so an interrupted run continues.

    python benchmarks/drn_adaptation.py                  # CPU budget, 3 seeds, 3 degradations
    python benchmarks/drn_adaptation.py --quick --degradation nearest   # pipeline check
    python benchmarks/drn_adaptation.py --scale-up --device cuda   # published DRN-S
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

SCALE = 4
DEFAULT_DEGRADATIONS = ("nearest", "bd", "blur-noise-jpeg:sigma=2,noise=5,q=75")
#: the paper's joint update in both --unpaired-targets readings, and the other two --dual-update
#: choices with the default reading (add frozen-chained, paired-chained with --variants)
DEFAULT_VARIANTS = ("joint-levels", "joint-chained", "frozen-levels", "paired-levels")
#: (option, CPU default, --quick, --scale-up)
BUDGETS = {
    "paired_iters": (3000, 30, 20000),
    "adapt_iters": (100, 10, 5000),
    "batch_size": (8, 4, 16),
    "patch_size": (64, 32, 192),
    "test_count": (7, 2, 34),
    "n_blocks": (4, 1, 30),  # RCABs per up block; 30 = DRN-S's published size
}
#: the paired model must beat bicubic upsampling on bicubic LR by this much to be worth adapting
WORTH_ADAPTING_DB = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="pipeline check: " + ", ".join(
        f"{name.replace('_', '-')} {values[1]}" for name, values in BUDGETS.items()) + ", seeds 0,1")
    budget.add_argument("--scale-up", action="store_true", help="GPU budget: " + ", ".join(
        f"{name.replace('_', '-')} {values[2]}" for name, values in BUDGETS.items()))
    for name, (cpu, quick, gpu) in BUDGETS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None,
                            help=f"default {cpu} (CPU) / {quick} (--quick) / {gpu} (--scale-up)")
    parser.add_argument("--seeds", default=None, help="fine-tuning seeds (default 0,1,2; --quick 0,1)")
    parser.add_argument("--paired", default="photos",
                        help="HR photos of the paired bicubic training (default: the bundled photos)")
    parser.add_argument("--target", default="set14",
                        help="HR photos of the target: first half LR-only, second half held out "
                             "(default: the bundled Set14)")
    parser.add_argument("--degradation", action="append", default=None, metavar="SPEC",
                        help="target degradation, repeatable (default: "
                             + "; ".join(DEFAULT_DEGRADATIONS) + ")")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="LR-only fine-tunes, DUALUPDATE-READING (joint|paired|frozen - levels|chained)")
    parser.add_argument("--learning-rate", type=float, default=4e-4, help="paired training learning rate")
    parser.add_argument("--adapt-learning-rate", type=float, default=1e-4, help="fine-tuning learning rate")
    parser.add_argument("--unpaired-ratio", type=float, default=0.3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="runs/drn_adaptation")
    args = parser.parse_args()
    column = 1 if args.quick else 2 if args.scale_up else 0
    for name, values in BUDGETS.items():
        if getattr(args, name) is None:
            setattr(args, name, values[column])
    args.seed_list = [int(s) for s in (args.seeds or ("0,1" if args.quick else "0,1,2")).split(",")]
    args.degradations = args.degradation or list(DEFAULT_DEGRADATIONS)
    args.variant_list = [v for v in args.variants.split(",") if v]
    for variant in args.variant_list:
        update, _, reading = variant.partition("-")
        if update not in ("joint", "paired", "frozen") or reading not in ("levels", "chained"):
            parser.error(f"--variants: {variant!r} is not DUALUPDATE-READING, e.g. frozen-levels")
    return args


class Stages:
    """Prints how long each stage took, and the total at the end."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        print(f"[stage] {name}: {(now - self.last) / 60:.1f} min", flush=True)
        self.last = now

    def total(self) -> float:
        return (time.perf_counter() - self.started) / 60


def srkit(command: list[str]) -> None:
    """Run an srkit command the way a user does, echoing it."""
    print("$ srkit", " ".join(command), flush=True)
    subprocess.run([sys.executable, "-m", "srkit", *command], check=True)


def slug(spec: str) -> str:
    """A folder name for a degradation spec."""
    return re.sub(r"[^A-Za-z0-9]+", "_", spec).strip("_")


def link_images(paths: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
    return folder


def degrade(source: Path, target: Path, spec: str, seed: int) -> Path:
    if not target.exists():
        srkit(["degrade", str(source), str(target), "--scale", str(SCALE), "--degradation", spec,
               "--seed", str(seed)])
    return target


def split_target(args: argparse.Namespace, out: Path) -> tuple[Path, Path]:
    """``(lr_only_hr, test_hr)``: links to the first half of the target photos and to up to
    ``test_count`` of the second half."""
    from srkit.data.bundled import resolve_dataset
    from srkit.imageio import list_images

    photos = list_images(resolve_dataset(args.target))
    half = len(photos) // 2
    if half < 1:
        raise SystemExit(f"{args.target}: needs at least 2 images (LR-only and held-out halves)")
    return (link_images(photos[:half], out / "target_lr_only_hr"),
            link_images(photos[half:][: args.test_count], out / "test_hr"))


def tiny_val(out: Path, test_hr: Path) -> Path:
    """One 64x64 crop: the trainer's own (bicubic) validation is not what is measured here."""
    from srkit.imageio import list_images, load_image, save_image

    folder = out / "val_crop"
    if not folder.exists():
        save_image(load_image(list_images(test_hr)[0])[:, :64, :64], folder / "crop.png")
    return folder


def train(args: argparse.Namespace, run: Path, extra: list[str], iters: int, seed: int,
          learning_rate: float) -> Path:
    """Train (unless ``run`` finished before); the run's weights."""
    weights = run / "model.safetensors"
    if not finished(run, iters):
        srkit(["train", "drn", "--scale", str(SCALE), "--variant", "s",
               "--n-blocks", str(args.n_blocks), "--batch-size", str(args.batch_size),
               "--patch-size", str(args.patch_size), "--iters", str(iters),
               "--learning-rate", str(learning_rate),
               "--seed", str(seed), "--device", args.device, "--workers", "0",
               "--val", str(args.val), "--val-every", "0", "--save-every", str(iters),
               "--log-every", str(max(1, iters // 10)), "--out", str(run), *extra])
    return weights


def finished(run: Path, iters: int) -> bool:
    """Whether ``run`` reached ``iters`` (an interrupted run also leaves weights behind)."""
    log = run / "log.jsonl"
    if not (run / "model.safetensors").exists() or not log.exists():
        return False
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return any(record.get("iteration") == iters for record in records)


@torch.no_grad()
def score(model: torch.nn.Module, test_hr: Path, test_lr: Path) -> dict[str, float]:
    """Mean protocol PSNR/SSIM (Y) of ``model`` on held-out LR against its HR."""
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


def score_weights(weights: Path, test_hr: Path, test_lr: Path) -> dict[str, float]:
    """``score`` of a weights file, cached next to it per test set."""
    from srkit.weights.files import load_model

    cache = weights.parent / f"score_{test_lr.name}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    result = score(load_model(weights), test_hr, test_lr)
    cache.write_text(json.dumps(result))
    return result


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def print_table(spec: str, rows: dict[str, list[dict[str, float]]], args: argparse.Namespace,
                variants: list[str]) -> dict[str, tuple[float, float, float | None]]:
    """The table of one degradation; ``{variant: (gain mean, gain std, share of oracle gap)}``."""
    control = [s["psnr"] for s in rows["control"]]
    gap = statistics.fmean(o["psnr"] - c for o, c in zip(rows["oracle"], control, strict=True))
    print(f"\n### {spec}\n\nHeld-out {args.test_count} photos of {args.target}, x{SCALE} LR by "
          f"{spec}; PSNR/SSIM on Y, mean ± std over {len(args.seed_list)} seeds; gain = PSNR minus "
          f"the control's, per seed; share = mean gain / mean oracle gain "
          f"({gap:+.3f} dB)\n")
    print("| model | PSNR (dB) | SSIM | gain over control (dB) | share of oracle gap |")
    print("|---|---|---|---|---|")
    results: dict[str, tuple[float, float, float | None]] = {}
    for label, scores in rows.items():
        p, ps = mean_std([s["psnr"] for s in scores])
        q, qs = mean_std([s["ssim"] for s in scores])
        g, gs = mean_std([s["psnr"] - c for s, c in zip(scores, control, strict=True)])
        share = g / gap if gap > 0 else None
        share_text = f"{100 * share:.0f} %" if share is not None else "n/a (no gap)"
        gain_text = "–" if label == "control" else f"{g:+.3f} ± {gs:.3f}"
        print(f"| {label} | {p:.3f} ± {ps:.3f} | {q:.4f} ± {qs:.4f} | {gain_text} | "
              f"{'–' if label == 'control' else share_text} |")
        if label in variants:
            results[label] = (g, gs, share)
    return results


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    stages = Stages()
    lr_only_hr, test_hr = split_target(args, out)
    args.val = tiny_val(out, test_hr)
    bicubic_lr = degrade(test_hr, out / "test_lr_bicubic", "bicubic", 200)
    target_sets = {spec: (degrade(lr_only_hr, out / f"lr_only_{slug(spec)}", spec, 100),
                          degrade(test_hr, out / f"test_lr_{slug(spec)}", spec, 200))
                   for spec in args.degradations}
    stages.done("target sets (srkit degrade)")

    from srkit.nn.baseline import BicubicUpsampler

    paired = train(args, out / "paired", ["--data", args.paired], args.paired_iters,
                   args.seed_list[0], args.learning_rate)
    stages.done(f"paired model ({args.paired_iters} it)")
    bicubic_clean = score(BicubicUpsampler(SCALE), test_hr, bicubic_lr)
    paired_clean = score_weights(paired, test_hr, bicubic_lr)
    margin = paired_clean["psnr"] - bicubic_clean["psnr"]
    print(f"\nPaired model on the BICUBIC LR of the held-out photos: {paired_clean['psnr']:.3f} dB, "
          f"bicubic upsampling {bicubic_clean['psnr']:.3f} dB: {margin:+.3f} dB "
          f"({'worth adapting' if margin >= WORTH_ADAPTING_DB else 'BELOW the +0.5 dB wanted'})\n",
          flush=True)

    init = ["--init", str(paired)]
    controls = {seed: train(args, out / f"control_s{seed}", ["--data", args.paired, *init],
                            args.adapt_iters, seed, args.adapt_learning_rate)
                for seed in args.seed_list}
    stages.done(f"control ({len(args.seed_list)} x {args.adapt_iters} it)")

    summary = []
    for spec in args.degradations:
        lr_only, test_lr = target_sets[spec]
        name = slug(spec)
        runs: dict[str, list[Path]] = {"control": [controls[s] for s in args.seed_list]}
        runs["oracle"] = [train(args, out / name / f"oracle_s{seed}",
                                ["--data", str(lr_only_hr), "--degradation", spec, *init],
                                args.adapt_iters, seed, args.adapt_learning_rate)
                          for seed in args.seed_list]
        stages.done(f"{spec}: oracle")
        for variant in args.variant_list:
            update, _, reading = variant.partition("-")
            runs[variant] = [train(args, out / name / f"{variant}_s{seed}",
                                   ["--data", args.paired, *init, "--unpaired", str(lr_only),
                                    "--unpaired-ratio", str(args.unpaired_ratio),
                                    "--unpaired-targets", reading, "--dual-update", update],
                                   args.adapt_iters, seed, args.adapt_learning_rate)
                             for seed in args.seed_list]
        stages.done(f"{spec}: {len(args.variant_list)} variants")
        bicubic = score(BicubicUpsampler(SCALE), test_hr, test_lr)
        paired_score = score_weights(paired, test_hr, test_lr)
        rows = {"bicubic upsampling": [bicubic] * len(args.seed_list),
                "paired model (before)": [paired_score] * len(args.seed_list)}
        rows.update({label: [score_weights(w, test_hr, test_lr) for w in weights]
                     for label, weights in runs.items()})
        stages.done(f"{spec}: scoring")
        results = print_table(spec, rows, args, args.variant_list)
        summary += [(gain, std, share, variant, spec) for variant, (gain, std, share) in results.items()]

    print(f"\nDRN-S x{SCALE} (n_blocks {args.n_blocks}), batch {args.batch_size}, HR crop "
          f"{args.patch_size}; paired {args.paired_iters} it (learning rate {args.learning_rate}), "
          f"each fine-tune {args.adapt_iters} it (learning rate {args.adapt_learning_rate}, "
          f"unpaired ratio {args.unpaired_ratio}); {stages.total():.1f} min in all on "
          f"{os.cpu_count()} CPU(s) / device {args.device}")
    if summary:
        gain, std, share, variant, spec = max(summary)
        share_text = f"{100 * share:.0f}% of the oracle gap" if share is not None else "no oracle gap"
        print(f"best: {variant} on {spec}: {gain:+.3f} +- {std:.3f} dB over control ({share_text})")


if __name__ == "__main__":
    main()
