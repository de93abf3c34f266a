"""Which CPU thread count srkit's code runs at: for the tests that srkit chooses it itself."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch


def record_thread_counts(monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> list[int]:
    """Wrap ``module.name`` so each call appends torch's thread count at that moment."""
    owner = importlib.import_module(module)  # the module, even where a function shares its name
    original = getattr(owner, name)
    seen: list[int] = []

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return seen


@contextmanager
def caller_threads(count: int) -> Iterator[None]:
    """Run the body with torch at ``count`` threads, restoring the count it had before."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
