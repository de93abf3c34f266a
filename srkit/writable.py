"""Output folders are checked before work starts, so a long job never fails at its first write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from srkit.errors import SrkitError


def probe_write(folder: Path) -> None:
    """Create and delete a temporary file in ``folder``; raises ``OSError`` when that fails."""
    fd, name = tempfile.mkstemp(prefix=".srkit-write-check.", dir=folder)
    os.close(fd)
    os.unlink(name)


def check_output_folder(folder: str | os.PathLike[str], what: str) -> None:
    """``folder`` is (or can be created as) a writable folder; creates nothing that stays.

    ``what`` names the option in the one-line error, e.g. ``"--out"``.
    """
    folder = Path(folder)
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
