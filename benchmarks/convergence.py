"""How fast does a recipe beat bicubic? PSNR/SSIM on Set5 and Set14 at checkpoints of one run.

Trains ``srkit train RECIPE`` (any preset or flags, on the bundled photos unless ``--data`` is
passed through) for a fixed number of iterations or a wall-clock budget, and at every
``--every`` iterations evaluates the generator on each ``--sets`` entry with the srkit protocol
(the trainer's own validation: Y channel, ``scale`` border). It prints one table with bicubic's
scores, the iteration at which the model first beats bicubic on the first set, iterations per
second and the machine's load average (timings depend on it; iteration counts do not).
Nothing is hard-coded: every number printed is measured by this run.

    python benchmarks/convergence.py srresnet --preset quick
    python benchmarks/convergence.py srresnet --preset quick --minutes 10 --every 250
    python benchmarks/convergence.py drn --scale 4 --every 500 --json results.json -- \\
        --preset quick --iters 3000 --device cuda --data hr/

Arguments after ``--`` (and unknown ones) go to ``srkit train RECIPE`` unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import srkit.training.trainer as trainer_module
from srkit.nn.baseline import BicubicUpsampler
from srkit.training.validation import Validator


class BudgetSpent(Exception):
    """Raised at the first evaluation after the wall-clock budget."""


class Recorder:
    """Evaluates a generator on several sets; the trainer calls it at each of its validations."""

    def __init__(self, sets: list[str], scale: int, device: torch.device,
                 minutes: float | None) -> None:
        self.validators = {name: Validator(name, scale, device) for name in sets}
        self.rows: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self.minutes = minutes
        self.last_generator: nn.Module | None = None

    def evaluate(self, generator: nn.Module, iteration: int) -> dict[str, float]:
        row: dict[str, Any] = {"iteration": iteration,
                               "seconds": round(time.perf_counter() - self.started, 1),
                               "load": round(os.getloadavg()[0], 1)}
        for name, validator in self.validators.items():
            scores = validator.run(generator)
            row[name] = {"psnr": scores["psnr"], "ssim": scores["ssim"]}
        self.rows.append(row)
        print(format_row(row, list(self.validators)), flush=True)
        first = next(iter(self.validators))
        if self.minutes is not None and row["seconds"] > 60 * self.minutes and iteration > 0:
            self.last_generator = generator
            raise BudgetSpent
        return row[first]


def recording_validator(recorder: Recorder) -> type:
    """A ``Validator`` the trainer builds as usual whose ``run`` also records every set."""

    class RecordingValidator(Validator):
        def run(self, generator: nn.Module, samples_dir: Path | None = None,
                iteration: int = 0) -> dict[str, float]:
            return recorder.evaluate(generator, iteration)

    return RecordingValidator


def format_row(row: dict[str, Any], sets: list[str]) -> str:
    cells = [str(row["iteration"]), f"{row['seconds']:.0f}", f"{row['load']:.1f}"]
    cells += [f"{row[s]['psnr']:.2f} / {row[s]['ssim']:.4f}" for s in sets]
    return "| " + " | ".join(cells) + " |"


def save_last(recorder: Recorder, out: Path) -> None:
    """The generator of the last evaluation as ``OUT/model.safetensors`` (a stopped run's)."""
    from srkit.training.config_io import read_config_file
    from srkit.weights.files import save_weights

    if recorder.last_generator is not None:
        save_weights(recorder.last_generator, out / "model.safetensors",
                     config=read_config_file(out / "config.toml"))
        print(f"weights of the last evaluation: {out / 'model.safetensors'}")


def first_beating(rows: list[dict[str, Any]], bicubic: dict[str, Any], name: str) -> int | None:
    for row in rows:
        if row["iteration"] > 0 and row[name]["psnr"] > bicubic[name]["psnr"]:
            return row["iteration"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="a registered recipe, e.g. srresnet")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--sets", default="set5,set14", help="evaluation sets, first decides")
    parser.add_argument("--every", type=int, default=250, help="evaluate every N iterations")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop at the first evaluation after this wall-clock budget")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="runs/convergence")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args, train_args = parser.parse_known_args()
    train_args = [a for a in train_args if a != "--"]

    from srkit.cli import main as srkit_main
    from srkit.training.distributed import resolve_device

    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    device = resolve_device(args.device)
    bicubic = {name: Validator(name, args.scale, device).run(BicubicUpsampler(args.scale))
               for name in sets}
    recorder = Recorder(sets, args.scale, device, args.minutes)
    trainer_module.Validator = recording_validator(recorder)  # the trainer validates through it
    command = ["train", args.recipe, "--scale", str(args.scale), "--device", args.device,
               "--out", args.out, *train_args, "--val", sets[0], "--val-every", str(args.every)]
    print("$ srkit", " ".join(command), flush=True)
    print(f"torch threads: {torch.get_num_threads()}, load average at start: "
          f"{os.getloadavg()[0]:.1f}")
    print(f"\n| iteration | seconds | load | {' | '.join(f'{s} PSNR / SSIM' for s in sets)} |")
    print("|---|---|---|" + "---|" * len(sets))
    print(format_row({"iteration": "bicubic", "seconds": 0, "load": os.getloadavg()[0],
                      **bicubic}, sets).replace("| 0 |", "| - |", 1))
    stopped = "iterations done"
    try:
        srkit_main(command)
    except BudgetSpent:
        stopped = f"wall-clock budget of {args.minutes} min spent"
        save_last(recorder, Path(args.out))
    except SystemExit as exc:
        if exc.code:
            raise
    rows = recorder.rows
    trained = [r for r in rows if r["iteration"] > 0]
    beats = first_beating(rows, bicubic, sets[0])
    print(f"\nstopped: {stopped}")
    if trained:
        last = trained[-1]
        rate = last["iteration"] / last["seconds"] if last["seconds"] else 0.0
        print(f"{last['iteration']} iterations in {last['seconds']:.0f} s "
              f"({rate:.2f} it/s including evaluations, load {last['load']:.1f})")
        margin = last[sets[0]]["psnr"] - bicubic[sets[0]]["psnr"]
        print(f"last {sets[0]} PSNR {last[sets[0]]['psnr']:.2f} dB, {margin:+.2f} dB vs bicubic")
    print(f"first beats bicubic on {sets[0]} x{args.scale}: "
          + (f"iteration {beats}" if beats else "not within this run"))
    if args.json:
        result = {"recipe": args.recipe, "scale": args.scale, "command": ["srkit", *command],
                  "bicubic": bicubic, "rows": rows, "first_beats_bicubic": beats,
                  "stopped": stopped}
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
