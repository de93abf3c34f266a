"""What a run tells its user while it trains: the start summary, the estimate, progress lines.

A terminal shows tqdm's bar; piped output (nohup, CI, ``| tee``) gets a plain line at every
log interval instead, so a long run never goes silent. Everything here reads values the trainer
already logs: nothing adds a device sync to the training step.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from srkit.config import TrainConfig
from srkit.interfaces import Recipe
from srkit.nn.models import count_parameters, describe, unwrap

#: a CPU run whose schedule takes longer than this gets a pointer to the quick preset
LONG_CPU_RUN_S = 30 * 60


def format_duration(seconds: float) -> str:
    """``42 s``, ``25 min``, ``3 h 05 min``: rounded for a human reading a log."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def phase_plan(recipe: Recipe, iters: int) -> list[tuple[int, str]]:
    """``[(first iteration, phase), ...]`` over iterations 1..iters (1-based, as logged)."""
    plan: list[tuple[int, str]] = []
    for step in range(iters):
        name = recipe.phase(step)
        if not plan or plan[-1][1] != name:
            plan.append((step + 1, name))
    return plan


def _phases_text(plan: list[tuple[int, str]], iters: int) -> str:
    ends = [start - 1 for start, _ in plan[1:]] + [iters]
    return ", ".join(f"{name} {start}-{end}" for (start, name), end in zip(plan, ends, strict=True))


def _images(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


def _device_text(device: torch.device, config: TrainConfig, world_size: int) -> str:
    name = str(device)
    if device.type == "cuda":
        name += f" ({torch.cuda.get_device_name(device)})"
    if world_size > 1:
        name += f" x {world_size} processes"
    precision = "fp32" if config.amp == "off" else f"{config.amp} autocast"
    return f"{name}, {precision}" + (", channels_last" if config.channels_last else "")


def start_summary(recipe_name: str, recipe: Recipe, config: TrainConfig, device: torch.device,
                  world_size: int, data_sizes: dict[str, int], start: int,
                  plan: list[tuple[int, str]]) -> list[str]:
    """The lines printed once when a run starts (or resumes)."""
    generator = unwrap(recipe.nets["generator"])
    arch, _ = describe(generator)
    others = sum(count_parameters(unwrap(n)) for k, n in recipe.nets.items() if k != "generator")
    params = f"{count_parameters(generator):,} parameters" + (
        f" (+{others:,} in {', '.join(k for k in recipe.nets if k != 'generator')})"
        if others else "")
    data = dict(data_sizes)
    main = data.pop("main", 0)
    source = config.data or "the bundled demo photos"
    kind = ("HR/LR pairs" if config.data_lr
            else f"HR images (LR made by the {config.degradation} degradation)")
    data_text = f"{main} {kind} from {source}" + "".join(
        f", {_images(count)} in stream {name!r}" for name, count in data.items())
    resumed = f", resuming at iteration {start}" if start else ""
    lines = [
        f"training {recipe_name}: {arch}, {params}, x{config.scale}",
        f"  device: {_device_text(device, config, world_size)}",
        f"  data: {data_text}; validation: {config.val}",
        f"  schedule: {config.iters} iterations of batch {config.batch_size} "
        f"(phases: {_phases_text(plan, config.iters)}){resumed}",
        f"  run folder: {config.out} (log.jsonl, samples/, checkpoints/, model.safetensors)",
    ]
    lines += [f"  note: {note}" for note in recipe.start_notes()]
    return lines


class RunProgress:
    """Per log record: phase-switch lines, the time estimate, and plain progress lines."""

    def __init__(self, config: TrainConfig, device: torch.device, start: int,
                 plan: list[tuple[int, str]], plain_lines: bool) -> None:
        self.config, self.device, self.start = config, device, start
        self.plan, self.plain_lines = plan, plain_lines
        self._records = 0
        # plan entries still ahead: a resumed run does not announce switches it has passed
        self._next = next((i for i, (first, _) in enumerate(plan) if first > start + 1), len(plan))

    def on_record(self, entry: dict[str, Any]) -> list[str]:
        """Lines to show for one log record (keys as in ``log.jsonl``)."""
        lines = []
        done = int(entry["iteration"])
        while self._next < len(self.plan) and self.plan[self._next][0] <= done:
            first, name = self.plan[self._next]
            lines.append(f"iteration {first}: phase {self.plan[self._next - 1][1]} -> {name}")
            self._next += 1
        self._records += 1
        rate = float(entry.get("it_per_s") or 0.0)
        remaining = (self.config.iters - done) / rate if rate > 0 else None
        if self._records == 2 and remaining is not None:  # the first window holds the warm-up
            lines.extend(self._estimate(rate))
        if self.plain_lines:
            lines.append(self._plain_line(entry, rate, remaining))
        return lines

    def _estimate(self, rate: float) -> list[str]:
        total = (self.config.iters - self.start) / rate
        lines = [f"estimate: {rate:.3g} it/s, about {format_duration(total)} for the "
                 f"{self.config.iters - self.start} iterations of this run (validation excluded)"]
        if self.device.type == "cpu" and total > LONG_CPU_RUN_S and _default_schedule(self.config):
            lines.append(f"note: on this CPU the recipe's schedule takes about "
                         f"{format_duration(total)}; --preset quick trains a short demo schedule, "
                         "a GPU trains the full one")
        return lines

    def _plain_line(self, entry: dict[str, Any], rate: float, remaining: float | None) -> str:
        done, total = int(entry["iteration"]), self.config.iters
        losses = "  ".join(f"{key[5:]} {value:.4g}" for key, value in entry.items()
                           if key.startswith("loss."))
        eta = format_duration(remaining) if remaining is not None else "?"
        return (f"iteration {done}/{total} ({100 * done / total:.0f}%)  {rate:.3g} it/s  "
                f"ETA {eta}  {entry.get('phase', '')}  {losses}").rstrip()


def _default_schedule(config: TrainConfig) -> bool:
    """Whether the run trains its recipe's full default length (no --iters, no --preset)."""
    field = {f.name: f for f in dataclasses.fields(config)}["iters"]
    return config.iters == field.default
