"""The ``srkit`` command line. Each command lives in its own module; plugins add theirs."""

from __future__ import annotations

import sys
import warnings

import click

from srkit.errors import SrkitError, StoppedBySignal
from srkit.version import __version__

BUILTIN_COMMANDS = ("plugins_cmd", "train", "bench", "upscale", "degrade", "pack", "convert",
                    "export", "info", "plot")


class _PluginCommandsGroup(click.Group):
    """A group that loads the plugins (and with them torch) only when a command is looked up or
    listed, so ``srkit --version`` answers without them."""

    def __init__(self, *args: object, with_plugin_commands: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._plugins_pending = with_plugin_commands

    def _add_plugin_commands(self) -> None:
        if self._plugins_pending:
            self._plugins_pending = False
            from srkit.plugins import add_plugin_commands

            add_plugin_commands(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._add_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)


def build_cli(with_plugin_commands: bool = True) -> click.Group:
    """A fresh ``srkit`` command group with the built-in commands and every plugin's commands."""

    @click.group(cls=_PluginCommandsGroup, with_plugin_commands=with_plugin_commands,
                 context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="srkit")
    def cli() -> None:
        """srkit: single-image super-resolution. Train, benchmark and run SR models."""

    import importlib

    for name in BUILTIN_COMMANDS:
        cli.add_command(importlib.import_module(f"srkit.cli.{name}").command)
    return cli


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"warning: {message}\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit status 2."""
    if not _under_torchrun():
        _run(argv)
        return
    try:
        _run(argv)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            click.echo(exc.code, err=True)
    except BaseException:  # noqa: BLE001 - printed as Python would, then the process ends
        import traceback

        traceback.print_exc()
        status = 1
    from srkit.training.distributed import end_process

    end_process(status)


def _under_torchrun() -> bool:
    import os

    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def _run(argv: list[str] | None) -> None:
    warnings.formatwarning = _format_warning
    try:
        build_cli().main(args=argv, prog_name="srkit", standalone_mode=False)
    except SrkitError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except StoppedBySignal as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `srkit` or `srkit train` alone: show help
            click.echo(exc.format_message())
            sys.exit(0)
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"error: {exc.format_message()}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
