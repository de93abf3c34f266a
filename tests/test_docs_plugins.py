"""docs/plugins.md lists every inherited config field, so plugin authors can rely on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from srkit.config import TrainConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def test_every_train_config_field_is_documented_with_its_flag() -> None:
    text = DOC.read_text(encoding="utf-8")
    for f in dataclasses.fields(TrainConfig):
        assert f"| `{f.name}` | `--{f.name.replace('_', '-')}` |" in text, f.name
