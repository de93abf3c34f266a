"""Errors that the CLI shows to the user as one line, without a traceback."""

import os
from pathlib import Path


class SrkitError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class PluginError(SrkitError):
    """A plugin could not be loaded or registered something invalid."""


def first_informative_line(error: BaseException | str, limit: int = 300) -> str:
    """The first line of ``error`` that says something, for one-line messages.

    Library errors often open with a header that ends in a colon ("Error(s) in loading
    state_dict for X:") and put the facts on the next lines; such a header is joined with the
    line after it so the message is never cut to an empty sentence. Falls back to the
    exception's type name when its text is empty.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__ if isinstance(error, BaseException) else ""
    text = lines[0]
    for line in lines[1:]:
        if not text.endswith(":"):
            break
        text = f"{text} {line}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_weights_file(path: str | os.PathLike[str]) -> None:
    """One line when ``path`` is missing or is a folder (a run folder or a packed image store
    handed where a weights file goes would otherwise read as "no such file")."""
    path = Path(path)
    if path.is_dir():
        raise SrkitError(f"{path}: a folder, not a weights file")
    if not path.is_file():
        raise SrkitError(f"{path}: no such weights file")


class StoppedBySignal(Exception):
    """A run stopped by SIGINT/SIGTERM/SIGHUP: the CLI prints the message, exits 128 + signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
