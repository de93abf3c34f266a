"""The folder of one training run and every path in it, named once.

Training writes these paths, ``srkit bench``/``upscale``/``plot`` and resuming read them; each
reaches them through :class:`RunFolder` so that a file name exists in one place only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: the folder that holds one folder per training run (``srkit bench`` looks there too)
RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class RunFolder:
    """``OUT/``: the run's exported weights, log, effective config, samples and checkpoints."""

    root: Path

    @classmethod
    def default(cls, recipe: str, scale: int, runs_dir: Path = RUNS_DIR) -> RunFolder:
        """The folder a run gets without ``--out``: ``runs/<recipe>_x<scale>``."""
        return cls(runs_dir / f"{recipe}_x{scale}")

    @property
    def model(self) -> Path:
        """The exported weights of the finished (or stopped) run."""
        return self.root / "model.safetensors"

    @property
    def log(self) -> Path:
        """One JSON record per line: losses, validation, events."""
        return self.root / "log.jsonl"

    @property
    def config(self) -> Path:
        """The effective config, reloadable with ``--config``."""
        return self.root / "config.toml"

    @property
    def samples(self) -> Path:
        """Validation sample strips."""
        return self.root / "samples"

    @property
    def lock(self) -> Path:
        """Held while a run trains, so two runs never write into one folder."""
        return self.root / ".lock"

    @property
    def checkpoints(self) -> Path:
        """Resumable training states and the best weights by validation PSNR."""
        return self.root / "checkpoints"

    @property
    def best(self) -> Path:
        """The weights of the best validation so far."""
        return self.checkpoints / "best.safetensors"

