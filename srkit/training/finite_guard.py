"""The non-finite-loss guard, kept on the device so training steps never wait for the host.

Each step folds its loss terms into device tensors (the first step at which each term was NaN or
Inf, and its value then) with a few elementwise ops; :meth:`FiniteGuard.check` reads them back at
the logging, validation and checkpoint intervals only, once per interval instead of once per step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from srkit.training import distributed
from srkit.training.distributed import ProcessInfo

NEVER = -1


class FiniteGuard:
    """Remembers, per loss term, the first step at which it was not finite."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._first_bad: dict[str, Tensor] = {}
        self._value: dict[str, Tensor] = {}

    def observe(self, losses: dict[str, Tensor], step: int) -> None:
        """Fold one step's loss terms (device scalars) in; no host synchronisation."""
        for name, value in losses.items():
            first = self._first_bad.get(name)
            if first is None:
                first = torch.full((), NEVER, dtype=torch.long, device=self.device)
                self._value[name] = torch.zeros((), device=self.device)
            new = (first == NEVER) & ~torch.isfinite(value)
            self._first_bad[name] = torch.where(new, torch.full_like(first, step), first)
            self._value[name] = torch.where(new, value.float(), self._value[name])

    def check(self, info: ProcessInfo) -> tuple[int, list[str]] | None:
        """``(1-based iteration, ["name = value", ...])`` of the first non-finite step, else None.

        One host read per call; under DDP every process takes part, and a failure on another
        process is reported with an empty list of terms.
        """
        bad: list[tuple[int, str]] = []
        if self._first_bad:
            names = list(self._first_bad)
            steps = torch.stack([self._first_bad[n] for n in names]).tolist()
            values = torch.stack([self._value[n] for n in names]).tolist()
            bad = [(s, f"{n} = {v}") for n, s, v in zip(names, steps, values, strict=True)
                   if s != NEVER]
        if not distributed.any_true(bool(bad), info, self.device):
            return None
        if not bad:
            return 0, []
        first = min(s for s, _ in bad)
        return first + 1, [term for s, term in bad if s == first]
