"""Running the ``srkit`` CLI in-process from the core tests (on top of :mod:`srkit.testing`)."""

from __future__ import annotations

import pytest

from srkit.plugins import reset_registry
from srkit.testing import run_cli as _run_cli


@pytest.fixture
def core_fixture_plugin(monkeypatch: pytest.MonkeyPatch):
    """The registry with the core test plugin (tiny generators and converters) added."""
    monkeypatch.setenv("SRKIT_PLUGIN_MODULES", "tests.core_fixture_plugin")
    reset_registry()
    yield
    reset_registry()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``srkit ARGV``; ``capsys`` is emptied first."""
    capsys.readouterr()
    result = _run_cli(*argv)
    return result.code, result.out, result.err


def expect_one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``srkit ARGV``, assert it fails with status 2 and one ``error: ...`` line; return it."""
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err
