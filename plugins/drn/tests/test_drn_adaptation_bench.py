"""benchmarks/drn_adaptation.py end to end at its --quick budget: every stage and the summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "drn_adaptation.py"


@pytest.mark.slow
def test_quick_adaptation_benchmark_prints_a_table_and_the_best_variant(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--degradation", "nearest", "--variants",
         "frozen-levels,paired-chained", "--device", "cpu", "--out", str(tmp_path / "run")],
        check=True, capture_output=True, text=True)
    out = result.stdout
    for row in ("bicubic upsampling", "paired model (before)", "control", "oracle",
                "frozen-levels", "paired-chained"):
        assert re.search(rf"^\| {re.escape(row)} \| \d+\.\d{{3}} ± \d\.\d{{3}} \|", out, re.M), row
    assert "Paired model on the BICUBIC LR of the held-out photos" in out
    assert re.search(r"^\[stage\] nearest: 2 variants: \d+\.\d min$", out, re.M)
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"best: (frozen-levels|paired-chained) on nearest: [+-]\d\.\d{3} \+- "
                        r"\d\.\d{3} dB over control \((-?\d+% of the oracle gap|no oracle gap)\)", last)
