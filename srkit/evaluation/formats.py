"""Rendering benchmark rows as a terminal table, JSON, CSV or Markdown.

JSON and CSV carry every field of every row (machines read them); the table and Markdown
show the columns people compare, the weights file of each row, the best value of each column
marked, and the fields shared by all rows (device, precision, what peak memory measures, why
LPIPS is missing) stated once underneath.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Callable
from typing import Any

from srkit.evaluation.row import BenchRow

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
    ("Weights", "weights", lambda v: v or "-"),
]
_LEFT_ALIGNED = {"model", "dataset", "weights"}
_SHARED_FIELDS = (("device", "device"), ("precision", "precision"),
                  ("peak memory", "peak_mem_kind"), ("LPIPS net", "lpips_net"),
                  ("self-ensemble", "self_ensemble"), ("tile", "tile"), ("Y", "y_channel"))
#: columns where one value is best among rows of the same dataset and scale: True = higher
BETTER_HIGHER = {"psnr": True, "ssim": True, "lpips": False, "latency_ms": False,
                 "mpix_per_s": True}
BEST_MARK = "*"


def best_cells(rows: list[BenchRow]) -> set[tuple[int, str]]:
    """``(row index, key)`` of the best value of each column per (dataset, scale) group.

    Only groups of two or more rows have a best; ties mark every row that has the value.
    """
    groups: dict[tuple[Any, Any], list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault((row.dataset, row.scale), []).append(index)
    best: set[tuple[int, str]] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        for key, higher in BETTER_HIGHER.items():
            values: dict[int, float] = {  # inf PSNR (a perfect match) is best
                i: v for i in members
                if isinstance(v := rows[i].field(key), (int, float)) and not math.isnan(v)}
            if not values:
                continue
            target = max(values.values()) if higher else min(values.values())
            best.update((i, key) for i, v in values.items() if v == target)
    return best


def _cells(rows: list[BenchRow], mark: Callable[[str], str] | None = None
           ) -> list[list[str]]:
    best = best_cells(rows) if mark is not None else set()
    return [[mark(render(row.field(key))) if (i, key) in best and mark else render(row.field(key))
             for _, key, render in COLUMNS] for i, row in enumerate(rows)]


def lpips_note(rows: list[BenchRow]) -> str | None:
    """Why LPIPS is n/a, when it is for every row."""
    reasons = [row.lpips_unavailable for row in rows]
    if rows and all(reasons):
        return f"LPIPS n/a: {reasons[0]}"
    return None


def _footer(rows: list[BenchRow], best_note: str) -> str:
    parts = []
    for label, key in _SHARED_FIELDS:
        values = list(dict.fromkeys(MISSING if row.field(key) is None else str(row.field(key))
                                     for row in rows))
        parts.append(f"{label}: {' / '.join(values)}")
    notes = [n for n in (lpips_note(rows), best_note if best_cells(rows) else None) if n]
    return "; ".join(parts) + "".join(f"\n{note}" for note in notes)


def format_table(rows: list[BenchRow]) -> str:
    """An aligned plain-text table for the terminal, with the shared fields underneath."""
    headers = [header for header, _, _ in COLUMNS]
    cells = _cells(rows, lambda text: text + BEST_MARK)
    widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]

    def line(values: list[str]) -> str:
        padded = [v.ljust(w) if key in _LEFT_ALIGNED else v.rjust(w)
                  for v, w, (_, key, _) in zip(values, widths, COLUMNS, strict=True)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(headers), rule, *(line(c) for c in cells)]
    note = f"{BEST_MARK} best per dataset and scale"
    return "\n".join(body + ([_footer(rows, note)] if rows else []))


def format_markdown(rows: list[BenchRow]) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned) and the shared fields."""
    headers = [header for header, _, _ in COLUMNS]
    align = [":---" if key in _LEFT_ALIGNED else "---:" for _, key, _ in COLUMNS]
    cells = _cells(rows, lambda text: f"**{text}**")
    lines = ["| " + " | ".join(values) + " |" for values in [headers, align, *cells]]
    footer = _footer(rows, "bold: best per dataset and scale").replace("\n", "\n\n")
    return "\n".join(lines + ([f"\n{footer}"] if rows else []))


def format_json(rows: list[BenchRow]) -> str:
    """The rows as a JSON list; unavailable numbers are ``null``, never NaN."""
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return json.dumps([{k: clean(v) for k, v in row.as_dict().items()} for row in rows], indent=2)


def format_csv(rows: list[BenchRow]) -> str:
    """Every field of every row; empty cells for unavailable values."""
    fields = [f.name for f in dataclasses.fields(BenchRow)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.as_dict().items()} for row in rows)
    return buffer.getvalue().rstrip("\n")


def format_rows(rows: list[BenchRow], fmt: str) -> str:
    renderers = {"table": format_table, "json": format_json, "csv": format_csv,
                 "md": format_markdown}
    return renderers[fmt](rows)
