"""Training curves from a run's ``log.jsonl``: loss terms and validation PSNR per iteration.

TensorBoard is optional; this draws the same scalars into one PNG with matplotlib (the ``plot``
extra), so a run can be looked at on any machine with no server.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from srkit.atomic_files import atomic_output
from srkit.errors import SrkitError

#: series name -> [(iteration, value), ...]
Series = dict[str, list[tuple[int, float]]]


def read_curves(run: Path) -> tuple[Series, Series]:
    """``(losses, validation)`` series of ``run/log.jsonl``; a torn last line is skipped."""
    log = run / "log.jsonl"
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


def plot_curves(run: Path, out: Path) -> Path:
    """Write ``out`` (PNG): losses on top (log scale), validation PSNR below."""
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
