"""The README's sample ``srkit bench`` table has the columns ``srkit bench`` really prints.

The sample's numbers come from one run on one machine; its header, its rule line and the
number of cells in each row are what a reader compares with their own terminal, so those are
checked against the table the command prints today.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
SET5 = ROOT / "srkit" / "data" / "bundled" / "Set5"
#: columns of a printed table are two or more spaces apart ("Peak MiB" holds one)
CELL_GAP = re.compile(r"\s{2,}")


def _cells(line: str) -> list[str]:
    return CELL_GAP.split(line.strip())


def readme_bench_sample() -> list[str]:
    """The README's indented block that starts with the bench header, line by line."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if _cells(line)[:3] == ["Model", "Dataset", "Scale"])
    block = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        block.append(line)
    return block


def printed_bench_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> list[str]:
    """What ``srkit bench`` prints for bicubic on one small crop of a Set5 image."""
    folder = tmp_path / "crop"
    folder.mkdir()
    with Image.open(SET5 / "baby.png") as image:
        image.crop((100, 100, 148, 140)).save(folder / "baby.png")
    code, out, err = run_cli(capsys, "bench", "--models", "bicubic", "--datasets", str(folder),
                             "--no-lpips", "--device", "cpu", "--warmup", "0")
    assert code == 0, err
    return out.splitlines()


def test_readme_sample_has_the_header_bench_prints(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    sample, printed = readme_bench_sample(), printed_bench_table(capsys, tmp_path)
    assert _cells(sample[0]) == _cells(printed[0])
    assert set(sample[1].strip()) <= {"-", " "} and len(_cells(sample[1])) == len(_cells(printed[0]))


def test_readme_sample_rows_have_a_cell_per_column() -> None:
    sample = readme_bench_sample()
    header = _cells(sample[0])
    rows = [line for line in sample[2:] if not re.match(r"\s*(device:|LPIPS n/a:|\* best)", line)]
    assert rows, "the README sample shows no rows"
    for row in rows:
        assert len(_cells(row)) == len(header), row
