"""What a run tells its user while it trains: the start summary, the estimate, progress lines.

A terminal shows tqdm's bar; piped output (nohup, CI, ``| tee``) gets a plain line at every
log interval instead, so a long run never goes silent. Everything here reads values the trainer
already logs: nothing adds a device sync to the training step.

Where a run reports: ``log.jsonl`` (one JSON object per record), TensorBoard, a progress bar.

Training curves from a run's ``log.jsonl``: loss terms and validation PSNR per iteration.

TensorBoard is optional; this draws the same scalars into one PNG with matplotlib (the ``plot``
extra), so a run can be looked at on any machine with no server.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from srkit.atomic_files import atomic_output, atomic_write_text
from srkit.config import TrainConfig
from srkit.errors import SrkitError
from srkit.interfaces import Recipe
from srkit.nn.models import count_parameters, describe, unwrap
from srkit.run_folder import RunFolder

#: a CPU run whose schedule takes longer than this gets a pointer to the quick preset
LONG_CPU_RUN_S = 30 * 60
#: share of the step time spent waiting for data above which a run warns (once)
DATA_WAIT_WARNING = 0.2



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
    """``[(first iteration, phase), ...]`` over iterations 1..iters (1-based, as logged).

    Found by bisecting for each phase boundary, never by walking every iteration, so a billion
    iterations plan at once. Phases follow one another: a phase never comes back later.
    """
    plan = [(1, recipe.phase(0))]
    last = iters - 1
    while len(plan) < iters and recipe.phase(last) != plan[-1][1]:
        same, other = plan[-1][0] - 1, last  # phase(same) is the current phase, phase(other) not
        while other - same > 1:
            middle = (same + other) // 2
            if recipe.phase(middle) == plan[-1][1]:
                same = middle
            else:
                other = middle
        plan.append((other + 1, recipe.phase(other)))
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
                  plan: list[tuple[int, str]], *, paired: bool = False,
                  data_notes: list[str] | None = None) -> list[str]:
    """The lines printed once when a run starts (or resumes).

    ``paired``: the data are HR/LR pairs (an LR folder or a pair store); ``data_notes``: lines
    about how the data is read (e.g. a folder too big to cache).
    """
    generator = unwrap(recipe.nets["generator"])
    arch, _ = describe(generator)
    others = sum(count_parameters(unwrap(n)) for k, n in recipe.nets.items() if k != "generator")
    params = f"{count_parameters(generator):,} parameters" + (
        f" (+{others:,} in {', '.join(k for k in recipe.nets if k != 'generator')})"
        if others else "")
    data = dict(data_sizes)
    main = data.pop("main", 0)
    source = config.data or "the bundled demo photos"
    kind = ("HR/LR pairs" if config.data_lr or paired
            else f"HR images (LR made by the {config.degradation} degradation)")
    data_text = f"{main} {kind} from {source}" + "".join(
        f", {recipe.describe_stream(name, count)}" for name, count in data.items())
    resumed = f", resuming at iteration {start}" if start else ""
    lines = [
        f"training {recipe_name}: {arch}, {params}, x{config.scale}",
        f"  device: {_device_text(device, config, world_size)}",
        f"  data: {data_text}; validation: {config.val}",
        f"  schedule: {config.iters} iterations of batch {config.batch_size} "
        f"(phases: {_phases_text(plan, config.iters)}){resumed}",
        f"  run folder: {config.out} (log.jsonl, samples/, checkpoints/, model.safetensors)",
    ]
    lines += [f"  note: {note}" for note in [*(data_notes or []), *recipe.start_notes()]]
    return lines


class RunProgress:
    """Per log record: phase-switch lines, the time estimate, and plain progress lines."""

    def __init__(self, config: TrainConfig, device: torch.device, start: int,
                 plan: list[tuple[int, str]], plain_lines: bool) -> None:
        self.config, self.device, self.start = config, device, start
        self.plan, self.plain_lines = plan, plain_lines
        self._records = 0
        self._warned_data_wait = False
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
        lines.extend(self._data_wait_warning(entry))
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

    def _data_wait_warning(self, entry: dict[str, Any]) -> list[str]:
        """One line, once per run, when the step waited for data too long over a log window.

        The first window is not judged: it holds the loader workers' start-up.
        """
        wait = entry.get("data_wait")
        if (self._warned_data_wait or wait is None or self._records < 2
                or wait <= DATA_WAIT_WARNING):
            return []
        self._warned_data_wait = True
        from srkit.data.store import is_store

        data, workers = self.config.data, self.config.workers
        remedy = f"raise --workers (now {workers})"
        if data is not None and not is_store(data):
            remedy = (f"pack the images once with srkit pack {data} STORE and train with --data "
                      f"STORE, or {remedy}")
        return [f"warning: the step waited for data {100 * wait:.0f}% of its time over the last "
                f"{self.config.log_every} iterations: {remedy}"]

    def _plain_line(self, entry: dict[str, Any], rate: float, remaining: float | None) -> str:
        done, total = int(entry["iteration"]), self.config.iters
        losses = "  ".join(f"{key[5:]} {value:.4g}" for key, value in entry.items()
                           if key.startswith("loss."))
        eta = format_duration(remaining) if remaining is not None else "?"
        wait = entry.get("data_wait")
        data = f"  data {100 * wait:.0f}% of step time" if wait is not None else ""
        return (f"iteration {done}/{total} ({100 * done / total:.0f}%)  {rate:.3g} it/s{data}  "
                f"ETA {eta}  {entry.get('phase', '')}  {losses}").rstrip()


def _default_schedule(config: TrainConfig) -> bool:
    """Whether the run trains its recipe's full default length (no --iters, no --preset)."""
    field = {f.name: f for f in dataclasses.fields(config)}["iters"]
    return config.iters == field.default


def _tensorboard_writer(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir=str(folder))


class RunLog:
    """Appends records to ``OUT/log.jsonl``, mirrors scalars to TensorBoard, drives the bar.

    Only the main process of a run creates one; the others use :class:`SilentLog`.
    """

    def __init__(self, out: Path, start: int, total: int) -> None:
        self.path = RunFolder(out).log
        out.mkdir(parents=True, exist_ok=True)
        self._forget_after(start)
        self._file = self.path.open("a", encoding="utf-8")
        self._tensorboard = _tensorboard_writer(out)
        # tqdm turns itself off when stderr is not a terminal (disable=None)
        self._bar = tqdm(total=total, initial=start, unit="it", dynamic_ncols=True,
                         disable=None, file=sys.stderr)

    def _forget_after(self, iteration: int) -> None:
        """On resume, drop records of iterations past the checkpoint (they are run again)."""
        if not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:  # a fresh run (iteration 0) starts a fresh log: its records are all redone
                if 0 < iteration and json.loads(line).get("iteration", 0) <= iteration:
                    kept.append(line)
            except (ValueError, AttributeError):  # a line torn by a kill
                continue
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))

    @property
    def interactive(self) -> bool:
        """Whether a live progress bar is shown (stderr is a terminal)."""
        return not self._bar.disable

    def record(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, sort_keys=True) + "\n")
        self._file.flush()
        if self._tensorboard is not None:
            step = entry["iteration"]
            for key, value in entry.items():
                if isinstance(value, (int, float)) and key != "iteration":
                    self._tensorboard.add_scalar(key.replace(".", "/"), value, step)

    def advance(self, postfix: dict[str, float | str] | None = None) -> None:
        self._bar.update(1)
        if postfix:
            shown = {k: v if isinstance(v, str) else f"{v:.4g}" for k, v in postfix.items()}
            self._bar.set_postfix(shown, refresh=False)

    def message(self, text: str) -> None:
        """A line for the user that does not break the progress bar."""
        self._bar.write(text, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


class SilentLog:
    """The log of a non-main process: records nothing."""

    def record(self, entry: dict[str, Any]) -> None:
        pass

    def advance(self, postfix: dict[str, float | str] | None = None) -> None:
        pass

    interactive = False

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


#: series name -> [(iteration, value), ...]
Series = dict[str, list[tuple[int, float]]]


def read_curves(run: Path) -> tuple[Series, Series]:
    """``(losses, validation)`` series of ``run/log.jsonl``; a torn last line is skipped."""
    log = RunFolder(run).log
    if not log.is_file():
        raise SrkitError(f"{run}: no log.jsonl (not a training run folder?)")
    losses: Series = {}
    validation: Series = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            iteration = int(entry["iteration"])
        except (ValueError, KeyError, TypeError, OverflowError):  # a torn line; 1e400 is inf
            continue
        for key, value in entry.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value):
                continue
            if key.startswith("loss."):
                losses.setdefault(key[5:], []).append((iteration, float(value)))
            elif key in ("val.psnr", "val.ssim"):
                validation.setdefault(key[4:], []).append((iteration, float(value)))
    if not losses and not validation:
        raise SrkitError(f"{log}: no loss or validation records yet")
    return losses, validation


def read_stops(run: Path) -> list[tuple[int, str]]:
    """``(iteration, signal)`` of each time the run was stopped early (Ctrl-C, SIGTERM, ...)."""
    stops = []
    for line in RunFolder(run).log.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            if isinstance(entry.get("stopped_by"), str):
                stops.append((int(entry["iteration"]), entry["stopped_by"]))
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            continue
    return stops


def _mark_stops(axes: list[Any], stops: list[tuple[int, str]]) -> None:
    """A dashed line through every panel at each early stop, labelled in the lower one."""
    for iteration, signal in stops:
        for ax in axes:
            ax.axvline(iteration, color="tab:red", linestyle="--", linewidth=1)
        axes[-1].annotate(f"stopped early ({signal}) at {iteration}", xy=(iteration, 0.02),
                          xycoords=("data", "axes fraction"), rotation=90, fontsize="small",
                          color="tab:red", ha="right", va="bottom")


def plot_curves(run: Path, out: Path) -> Path:
    """Write ``out`` (PNG): losses on top (log scale), validation PSNR below, a dashed line
    where the run was stopped early (its last validation is the point on that line)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        from matplotlib import pyplot as plt
    except ImportError:
        raise SrkitError("srkit plot needs matplotlib: pip install 'srkit[plot]'") from None
    losses, validation = read_curves(run)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for name, points in losses.items():
        top.plot(*zip(*points, strict=True), label=name, linewidth=1)
    if losses and all(v > 0 for points in losses.values() for _, v in points):
        top.set_yscale("log")
    top.set_ylabel("loss")
    top.legend(loc="upper right", fontsize="small")
    top.grid(alpha=0.3)
    if "psnr" in validation:
        bottom.plot(*zip(*validation["psnr"], strict=True), marker="o", color="tab:green")
    _mark_stops([top, bottom], read_stops(run))
    bottom.set_ylabel("validation PSNR (dB)")
    bottom.set_xlabel("iteration")
    bottom.grid(alpha=0.3)
    figure.suptitle(f"{run}")
    figure.tight_layout()
    try:
        with atomic_output(out) as tmp:
            figure.savefig(tmp, dpi=100, format=out.suffix.lstrip(".").lower())
    except OSError as exc:
        raise SrkitError(f"{out}: cannot write the plot ({exc.strerror or exc})") from None
    finally:
        plt.close(figure)
    return out
