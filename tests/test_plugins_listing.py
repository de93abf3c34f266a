"""``srkit plugins -v`` reads as plain text: no RST markup, factories named by their factory."""

from __future__ import annotations

import pytest

from srkit.cli.plugins_cmd import _where, plain_summary
from tests.cli_helpers import run_cli


def _make_builder():  # noqa: ANN202 - a factory, as plugins write them
    def build() -> None:
        """Builds things."""

    return build


def test_summary_keeps_the_first_paragraph_without_rst_markup() -> None:
    doc = """MATLAB ``imresize`` as a :class:`srkit.interfaces.Generator`,
    see :func:`~srkit.degradations.imresize`.

    Details that are not the summary.
    """
    assert plain_summary(doc) == ("MATLAB imresize as a srkit.interfaces.Generator, "
                                  "see srkit.degradations.imresize.")


def test_a_function_made_by_a_factory_is_named_by_the_factory() -> None:
    assert _where(_make_builder()) == f"{__name__}._make_builder(...)"


def test_verbose_listing_has_no_markup_or_locals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plugins", "-v")
    assert code == 0 and "drn-s" in out
    assert "<locals>" not in out and "``" not in out and ":class:" not in out


def test_each_converter_describes_itself(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plugins", "-v")
    converters = out.split("converters:")[1].split("commands:")[0]
    summaries = [line.strip() for line in converters.splitlines() if line.startswith(" " * 10)]
    assert len(summaries) >= 5 and len(set(summaries)) == len(summaries), summaries
    assert "A registered converter" not in converters
    assert "Lornatang/SRGAN-PyTorch" in converters and "guoyongcs/DRN" in converters
