"""Training throughput of every recipe: eager fp32 vs each speed option, in one run.

For each recipe (and each of its training phases, e.g. SRGAN's pretrain and gan), builds the
recipe exactly as ``srkit train`` does, prepares ``--steps`` batches on the device (HR crops
of the bundled photos, LR by the recipe's degradation), then times ``--steps`` training steps
(``recipe.train_step`` + scheduler steps, after ``--warmup`` untimed ones) per variant, the
variants taking turns step by step; it reports the median step time:

    eager        fp32, contiguous (the baseline every ratio is relative to)
    bf16         --amp bf16 (autocast)
    channels_last --channels-last
    compile      --compile (torch.compile; the warmup steps include compilation)
    fast         all three: --amp bf16 --channels-last --compile

Data loading is excluded (the trainer overlaps it with worker processes). Example:

    python benchmarks/train_throughput.py --device cpu --steps 5 --batch-size 4 --patch-size 48 \
        --option content_loss=mse
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import torch

from srkit.devices import resolve_device
from srkit.errors import SrkitError
from srkit.interfaces import Batch
from srkit.plugins import get_registry
from srkit.training.batches import TrainBatches
from srkit.training.config_io import coerce, field_specs
from srkit.training.context import TrainContext
from srkit.training.distributed import ProcessInfo
from srkit.training.rng import seed_everything

VARIANTS: dict[str, dict[str, Any]] = {
    "eager": {},
    "bf16": {"amp": "bf16"},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
    "fast": {"amp": "bf16", "channels_last": True, "compile": True},
}


def _config(recipe_class: type, args: argparse.Namespace, variant: dict[str, Any]) -> Any:
    config_class = recipe_class.config_class
    specs = {s.name: s for s in field_specs(config_class)}
    values: dict[str, Any] = {"scale": args.scale, "batch_size": args.batch_size,
                              "patch_size": args.patch_size, "workers": 0,
                              "device": args.device, "seed": 0}
    for item in args.option:
        key, _, text = item.partition("=")
        if key in specs:  # options a recipe does not have are ignored for it
            values[key] = coerce(specs[key], _parse(text), f"--option {item}")
    return config_class(**{**values, **variant})


def _parse(text: str) -> Any:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _phase_starts(recipe: Any, iters: int) -> dict[str, int]:
    """First iteration of each training phase (scanned over the configured run length)."""
    starts: dict[str, int] = {}
    for iteration in range(iters):
        starts.setdefault(recipe.phase(iteration), iteration)
    return starts


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class VariantRun:
    """One recipe built with one variant's options, stepping through the shared batches."""

    def __init__(self, recipe_class: type, args: argparse.Namespace, variant: dict[str, Any],
                 device: torch.device, phase_start: int, batches: list[Batch]) -> None:
        config = _config(recipe_class, args, variant)
        seed_everything(0)
        self.recipe = recipe_class(config, device)
        self.ctx = TrainContext(self.recipe, config, device, ProcessInfo(), ema=None)
        self.device, self.phase_start = device, phase_start
        if config.channels_last:
            batches = [Batch(b.lr.contiguous(memory_format=torch.channels_last),
                             b.hr.contiguous(memory_format=torch.channels_last), b.extra)
                       for b in batches]
        self.batches, self.step, self.seconds = batches, 0, []

    def run_step(self, timed: bool) -> None:
        batch = self.batches[self.step % len(self.batches)]
        self.ctx.iteration = self.phase_start + self.step
        _sync(self.device)
        started = time.perf_counter()
        self.recipe.train_step(batch, self.ctx)
        with warnings.catch_warnings():  # optimizers idle in a phase (SRGAN's D) are expected
            warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*")
            for scheduler in self.recipe.schedulers.values():
                scheduler.step()
        _sync(self.device)
        if timed:
            self.seconds.append(time.perf_counter() - started)
        self.step += 1

    def median_seconds(self) -> float:
        return statistics.median(self.seconds)


def _measure(recipe_class: type, args: argparse.Namespace, variants: list[str],
             device: torch.device, phase_start: int, batches: list[Batch]) -> dict[str, Any]:
    """Median seconds per step of each variant (or the exception that stopped it).

    Variants take turns step by step, so a change in machine load hits all of them alike.
    """
    runs: dict[str, Any] = {}
    for variant in variants:
        try:
            run = VariantRun(recipe_class, args, VARIANTS[variant], device, phase_start, batches)
            for _ in range(args.warmup):
                run.run_step(timed=False)
            runs[variant] = run
        except Exception as exc:  # a speed option unsupported here is a result too
            runs[variant] = exc
    for _ in range(args.steps):
        for variant, run in runs.items():
            if isinstance(run, VariantRun):
                try:
                    run.run_step(timed=True)
                except Exception as exc:
                    runs[variant] = exc
    return {v: r.median_seconds() if isinstance(r, VariantRun) else r for v, r in runs.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="", help="comma-separated (default: all registered)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="subset of " + ", ".join(VARIANTS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--option", action="append", default=[],
                        help="KEY=VALUE set on every recipe whose config has KEY (repeatable)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    registry = get_registry()
    names = [n for n in args.recipes.split(",") if n] or registry.names("recipe")
    variants = [v for v in args.variants.split(",") if v]
    torch.backends.cudnn.benchmark = True
    hr_mpix = args.batch_size * args.patch_size**2 / 1e6
    print(f"# device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch_size}, HR patch {args.patch_size}, x{args.scale}, "
          f"{args.steps} timed steps after {args.warmup} warmup")
    print("| recipe | phase | variant | it/s | HR MP/s | vs eager |")
    print("|---|---|---|---:|---:|---:|")
    for name in names:
        recipe_class = registry.get("recipe", name)
        try:
            base = _config(recipe_class, args, {})
            seed_everything(0)
            probe = recipe_class(base, device)
            source = TrainBatches(base, probe, device, ProcessInfo(), start_step=0)
            batches = [source.next_batch(i) for i in range(args.warmup + args.steps)]
            phases = _phase_starts(probe, base.iters)
        except SrkitError as exc:
            print(f"| {name} | - | - | skipped: {exc} | | |")
            continue
        for phase, start in phases.items():
            results = _measure(recipe_class, args, variants, device, start, batches)
            eager = results.get("eager")
            for variant, seconds in results.items():
                if isinstance(seconds, Exception):
                    reason = " ".join(str(seconds).split())[:80]
                    print(f"| {name} | {phase} | {variant} | failed: {type(seconds).__name__}: "
                          f"{reason} | | |")
                    continue
                ratio = f"{eager / seconds:.2f}x" if isinstance(eager, float) else "-"
                print(f"| {name} | {phase} | {variant} | {1 / seconds:.3g} | "
                      f"{hr_mpix / seconds:.3g} | {ratio} |", flush=True)

if __name__ == "__main__":
    main()
