"""Every ``srkit ...`` command shown in README.md and docs/*.md exists as written.

Each command found in a code block is resolved through the real click command tree: the
(sub)command must exist, every option must be one of its options, and a value given to an
option with fixed choices must be one of them. Its ``--help`` is run as well, which builds the
command as a user's call would. Nothing is trained or benchmarked, so this stays cheap; what
it catches is a doc and a command drifting apart (a renamed flag, a removed choice).

Names that a page defines itself for a hypothetical third-party plugin (the keys of a
``[project.entry-points.srkit]`` block on that page, e.g. ``mynet``) are not installed, so
commands that use them are checked only up to that name.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from srkit.cli import build_cli
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SEPARATORS = {"&&", "||", "|", ";"}
#: values that stand for something the reader fills in (FILE, NAME=FILE, S, ...)
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_=|.,/-]*$|[<>]|\.\.\.")


@dataclass(frozen=True)
class DocCommand:
    source: str  # file:line
    argv: tuple[str, ...]  # without the leading "srkit"
    page_names: frozenset[str]

    def __str__(self) -> str:
        return f"{self.source}: srkit {' '.join(self.argv)}"


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of shell code: fenced blocks (not python/toml/yaml) and, outside
    them, lines indented by four spaces; continuation lines are joined."""
    lines, fenced, language, pending, start = [], False, "", "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced, language = (not fenced), stripped[3:].strip().lower()
            continue
        is_code = (fenced and language in ("", "bash", "sh", "shell", "console")) or (
            not fenced and line.startswith("    ") and stripped)
        if not is_code:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append((start, pending + stripped))
        pending = ""
    return lines


def _page_names(text: str) -> frozenset[str]:
    """Plugin names a page defines in an ``[project.entry-points.srkit]`` TOML block."""
    names = set()
    for block in re.findall(r"\[project\.entry-points\.srkit\]\n((?:[^\n\[`]+\n)+)", text):
        names.update(m.group(1) for m in re.finditer(r"^\s*([\w-]+)\s*=", block, re.M))
    return frozenset(names)


def _srkit_segments(line: str) -> list[tuple[str, ...]]:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        tokens = line.split("#")[0].split()
    segments, current = [], []
    for token in [*tokens, ";"]:
        if token in SEPARATORS:
            segments.append(current)
            current = []
        else:
            current.append(token)
    found = []
    for segment in segments:
        if segment[:1] == ["srkit"]:
            found.append(tuple(segment[1:]))
        elif "-m" in segment and segment[segment.index("-m") + 1:][:1] == ["srkit"]:
            found.append(tuple(segment[segment.index("-m") + 2:]))
    return found


def doc_commands() -> list[DocCommand]:
    commands = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        names = _page_names(text)
        for number, line in _code_lines(text):
            for argv in _srkit_segments(line):
                commands.append(DocCommand(f"{path.relative_to(ROOT)}:{number}", argv, names))
    return commands


def _options(command: click.Command, ctx: click.Context) -> dict[str, click.Option]:
    table = {}
    for param in command.get_params(ctx):  # as click parses: commands may build options late
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                table[name] = param
    return table


def resolve(doc: DocCommand) -> list[str]:
    """The command path (e.g. ``["train", "drn"]``) after checking every option; raises
    AssertionError naming the doc line on any mismatch."""
    group: click.Command = build_cli()
    ctx = click.Context(group, info_name="srkit")
    args, path = list(doc.argv), []
    while isinstance(group, click.Group) and args and not args[0].startswith("-"):
        name = args.pop(0)
        if name in doc.page_names:
            return []  # a plugin this page only describes
        sub = group.get_command(ctx, name)
        assert sub is not None, f"{doc}: no command {' '.join([*path, name])!r}"
        path.append(name)
        group, ctx = sub, click.Context(sub, info_name=name, parent=ctx)
    options = _options(group, ctx)
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if not token.startswith("-") or token == "-":
            continue
        name, has_value, value = token.partition("=")
        if name in ("-h", "--help"):
            continue
        assert name in options, f"{doc}: {' '.join(path)} has no option {name}"
        option = options[name]
        if option.is_flag or option.count:
            continue
        if not has_value:
            assert index < len(args), f"{doc}: {name} needs a value"
            value, index = args[index], index + 1
        if isinstance(option.type, click.Choice) and not PLACEHOLDER.search(value):
            assert value in option.type.choices, (
                f"{doc}: {name} {value!r} is not one of {', '.join(option.type.choices)}")
    return path


COMMANDS = doc_commands()


def _command_paths() -> list[tuple[str, ...]]:
    """The distinct command paths the docs use (a command that does not resolve fails in the
    parse test, not at collection)."""
    paths = set()
    for doc in COMMANDS:
        try:
            path = resolve(doc)
        except AssertionError:
            continue
        if path:
            paths.add(tuple(path))
    return sorted(paths)


def test_docs_show_commands_at_all() -> None:
    sources = {command.source.split(":")[0] for command in COMMANDS}
    assert "README.md" in sources and any(s.startswith("docs/") for s in sources)
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("doc", COMMANDS, ids=str)
def test_documented_command_parses_with_the_real_options(doc: DocCommand) -> None:
    resolve(doc)


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_documented_command_runs_its_help(path: tuple[str, ...],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, *path, "--help")
    assert code == 0 and out.startswith("Usage: "), err


def test_a_drifted_option_is_caught() -> None:
    drifted = DocCommand("example.md:1", ("bench", "--model", "bicubic"), frozenset())
    with pytest.raises(AssertionError, match="has no option --model"):
        resolve(drifted)
    bad_choice = DocCommand("example.md:2", ("bench", "--format", "xml"), frozenset())
    with pytest.raises(AssertionError, match="'xml' is not one of"):
        resolve(bad_choice)
    unknown = DocCommand("example.md:3", ("bnech",), frozenset())
    with pytest.raises(AssertionError, match="no command 'bnech'"):
        resolve(unknown)
