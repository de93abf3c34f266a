"""Training: the trainer, its recipes' building blocks, and where a run's files go."""

from __future__ import annotations

from pathlib import Path

#: the folder that holds one folder per training run (``srkit bench`` looks there too)
RUNS_DIR = Path("runs")


def run_folder(recipe: str, scale: int) -> Path:
    """The default folder of a training run: ``runs/<recipe>_x<scale>``."""
    return RUNS_DIR / f"{recipe}_x{scale}"
