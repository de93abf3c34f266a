"""Running the ``srkit`` CLI in-process from tests."""

from __future__ import annotations

import pytest

from srkit.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``srkit ARGV``."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def expect_one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``srkit ARGV``, assert it fails with status 2 and one ``error: ...`` line; return it."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err
