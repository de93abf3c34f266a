"""Rendering benchmark rows as a terminal table, JSON, CSV or Markdown.

JSON and CSV carry every field of every row (machines read them); the table and Markdown
show the columns people compare, with the fields shared by all rows (device, precision,
what peak memory measures) stated once underneath.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from typing import Any

FORMATS = ("table", "json", "csv", "md")
MISSING = "n/a"


def _number(digits: int) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        return f"{value:.{digits}f}"

    return render


def _significant(value: Any) -> str:
    """Three significant digits without exponents: 0.000219, 5.31, 1234."""
    if value is None:
        return MISSING
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:#.3g}".rstrip(".")


def _params(value: Any) -> str:
    if value is None:
        return MISSING
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}K"
    return str(value)


#: (header, row key, how to show it; right-aligned if numeric)
COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("Model", "model", str),
    ("Dataset", "dataset", str),
    ("Scale", "scale", lambda v: f"x{v}"),
    ("PSNR", "psnr", _number(2)),
    ("SSIM", "ssim", _number(4)),
    ("LPIPS", "lpips", _number(4)),
    ("Params", "params", _params),
    ("ms/img", "latency_ms", _number(1)),
    ("MP/s", "mpix_per_s", _significant),
    ("Peak MiB", "peak_mem_mb", _number(0)),
]
_LEFT_ALIGNED = {"model", "dataset"}
_SHARED_FIELDS = (("device", "device"), ("precision", "precision"),
                  ("peak memory", "peak_mem_kind"), ("LPIPS net", "lpips_net"),
                  ("self-ensemble", "self_ensemble"), ("tile", "tile"), ("Y", "y_channel"))


def _cells(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[render(row.get(key)) for _, key, render in COLUMNS] for row in rows]


def _footer(rows: list[dict[str, Any]]) -> str:
    parts = []
    for label, key in _SHARED_FIELDS:
        values = list(dict.fromkeys(MISSING if row.get(key) is None else str(row.get(key))
                                     for row in rows))
        parts.append(f"{label}: {' / '.join(values)}")
    return "; ".join(parts)


def format_table(rows: list[dict[str, Any]]) -> str:
    """An aligned plain-text table for the terminal, with the shared fields underneath."""
    headers = [header for header, _, _ in COLUMNS]
    cells = _cells(rows)
    widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]

    def line(values: list[str]) -> str:
        padded = [v.ljust(w) if key in _LEFT_ALIGNED else v.rjust(w)
                  for v, w, (_, key, _) in zip(values, widths, COLUMNS, strict=True)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(headers), rule, *(line(c) for c in cells)]
    return "\n".join(body + ([_footer(rows)] if rows else []))


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned) and the shared fields."""
    headers = [header for header, _, _ in COLUMNS]
    align = [":---" if key in _LEFT_ALIGNED else "---:" for _, key, _ in COLUMNS]
    lines = ["| " + " | ".join(values) + " |" for values in [headers, align, *_cells(rows)]]
    return "\n".join(lines + ([f"\n{_footer(rows)}"] if rows else []))


def format_json(rows: list[dict[str, Any]]) -> str:
    """The rows as a JSON list; unavailable numbers are ``null``, never NaN."""
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return json.dumps([{k: clean(v) for k, v in row.items()} for row in rows], indent=2)


def format_csv(rows: list[dict[str, Any]]) -> str:
    """Every field of every row; empty cells for unavailable values."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue().rstrip("\n")


def format_rows(rows: list[dict[str, Any]], fmt: str) -> str:
    renderers = {"table": format_table, "json": format_json, "csv": format_csv,
                 "md": format_markdown}
    return renderers[fmt](rows)
