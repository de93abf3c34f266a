"""Outputs are checked before work starts, so a long job never fails at its first write and never
writes over what it reads.

Every command that writes calls :func:`check_output_folder` or :func:`check_output_file` first:
the destination must be writable, must not be one of the command's inputs (compared as files, so
a symbolic or hard link to an input is caught too) and, for a file, must carry a suffix of the
format written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from srkit.errors import SrkitError

PathLike = str | os.PathLike[str]


def probe_write(folder: Path) -> None:
    """Create and delete a temporary file in ``folder``; raises ``OSError`` when that fails."""
    fd, name = tempfile.mkstemp(prefix=".srkit-write-check.", dir=folder)
    os.close(fd)
    os.unlink(name)


def check_output_folder(folder: PathLike, what: str, *, inputs: Iterable[PathLike] = ()) -> None:
    """``folder`` is (or can be created as) a writable folder that is none of ``inputs``;
    creates nothing that stays.

    ``what`` names the option in the one-line error, e.g. ``"--out"``.
    """
    folder = Path(folder)
    for source in inputs:
        if same_path(folder, source):
            raise SrkitError(f"{folder}: {what} is the input {source}; choose another {what}")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == folder else f" (cannot create {folder})"
        raise SrkitError(f"{existing}: {what} must be a folder, but this is a file{where}")
    try:
        probe_write(existing)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = "" if existing == folder else f" (the nearest existing folder of {folder})"
        raise SrkitError(f"{existing}: {what} is not writable{where}: {reason}") from None


def check_output_file(path: PathLike, what: str, *, inputs: Iterable[PathLike] = (),
                      suffixes: Iterable[str] | None = None) -> None:
    """``path`` can be written as a file: not a folder, none of ``inputs``, one of ``suffixes``
    (lower case, with the dot, e.g. ``(".onnx",)``) when given, in a writable folder."""
    path = Path(path)
    if suffixes is not None:
        allowed = tuple(suffixes)
        if not path.name.lower().endswith(allowed):
            raise SrkitError(f"{path}: {what} must end in {' or '.join(allowed)} "
                             "(the format written)")
    if path.is_dir():
        raise SrkitError(f"{path}: {what} is a folder; give a file name")
    for source in inputs:
        if same_path(path, source):
            raise SrkitError(f"{path}: {what} would overwrite the input {source}; "
                             f"choose another {what}")
    check_output_folder(path.parent, f"the folder of {what}")


def same_path(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file or folder (through links too; by path if missing)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()
