"""Crash-safe writes of every file srkit produces: weights, checkpoints, images, exports, reports.

A file is written to a temp file in its own folder, flushed and fsynced, renamed over the
target, and the folder is fsynced, so a kill, a full disk or a power cut at any moment leaves
the old file or the new one, never a torn one. Libraries that insist on writing a path
themselves (Pillow, ``torch.save``, the ONNX exporter, matplotlib) write into
:func:`atomic_output`'s temp file, which replaces the target only once it is complete and
checked. Temp files have one name pattern, ``.NAME.RANDOM.tmp``, which
:func:`remove_stale_temp_files` recognises. Files get mode 0666 minus the umask, as
with any other tool's output (``tempfile.mkstemp`` would make them 0600).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

TEMP_SUFFIX = ".tmp"
#: temp files of older srkit versions, which let safetensors pick the name (``.tmpFW1fdi``)
_LEGACY_TEMP_PATTERN = ".tmp*"


def temp_path_for(path: Path) -> Path:
    """A fresh temp file name beside ``path``: ``.NAME.RANDOM.tmp``."""
    return path.parent / f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` by ``data``: readers see the old content or the new, never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        write_durably(fd, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """``with atomic_output(target) as tmp:`` write ``tmp`` by any means (and check it); when the
    block ends without an error, ``tmp`` replaces ``target`` durably, else it is deleted and
    ``target`` keeps its previous content. ``tmp`` ends in ``.tmp``: name the file format
    explicitly to libraries that guess it from the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def write_durably(fd: int, data: bytes) -> None:
    """Write ``data`` to the open file ``fd``, flush, fsync and close it (tests inject faults here)."""
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike[str],
                            metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file atomically (serialised here, so safetensors makes no temp file)."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temp files a killed write left in ``folder`` (they are never read); return them.

    Only call this while no other process writes into ``folder`` (a training run holds its
    run-folder lock).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = {p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file()}
    stale |= {p for p in folder.glob(_LEGACY_TEMP_PATTERN) if p.is_file()}
    for path in stale:
        path.unlink(missing_ok=True)
    return sorted(stale)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
