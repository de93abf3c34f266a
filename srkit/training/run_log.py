"""Where a run reports: ``log.jsonl`` (one JSON object per record), TensorBoard, a progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from srkit.atomic_files import atomic_write_text


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
        self.path = out / "log.jsonl"
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
