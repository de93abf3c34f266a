"""Reading a packed image store (made by ``srkit pack``): crops without decoding whole images.

A store is a folder of uint8 pixel shards, each a standard 1-D ``.npy`` array that is memory
mapped, and one manifest, ``srkit-store.json``, that says where each image's (3,H,W) pixels start
in which shard, which source files (name, size, mtime) they were decoded from and which srkit
wrote them. Reading a 96x96 crop touches a few pages of one shard, where a PNG folder decodes
the whole image per crop.

The manifest is written last, atomically, so its presence means a finished store. A store whose
sources changed since packing (checked when the source folder is reachable), whose shard is
truncated, or that was written by something else is refused with one line naming it.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from srkit.data.probe import ImageFile, is_too_small
from srkit.errors import SrkitError
from srkit.imageio import is_image_file
from srkit.version import __version__

MANIFEST_NAME = "srkit-store.json"
#: exists from the moment ``srkit pack`` starts writing a store: marks an unfinished one
PACK_LOCK_NAME = ".pack.lock"
STORE_FORMAT = "srkit-image-store"
STORE_FORMAT_VERSION = 1

#: a source listing entry: (file name, size in bytes, mtime in nanoseconds)
Listed = tuple[str, int, int]


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a packed store, finished or not (rather than a folder of images)."""
    path = Path(path)
    return (path / MANIFEST_NAME).is_file() or (path / PACK_LOCK_NAME).is_file()


def list_sources(folder: Path) -> list[Listed]:
    """``(name, size, mtime_ns)`` of every image file directly in ``folder``, by name."""
    listed = []
    for path in sorted(p for p in folder.iterdir() if is_image_file(p)):
        stat = path.stat()
        listed.append((path.name, stat.st_size, stat.st_mtime_ns))
    return listed


def pack_command(manifest: dict[str, Any], store: Path) -> str:
    """The ``srkit pack`` command that (re)makes ``store`` from its sources."""
    roots = manifest["roots"]
    paired = f" --lr-dir {roots[1]} --scale {manifest['scale']}" if len(roots) > 1 else ""
    return f"srkit pack {roots[0]} {store}{paired}"


def _stale_reason(manifest: dict[str, Any]) -> str | None:
    """How the source folders differ from what was packed; ``None`` if they match or are absent.

    A store copied to a node without its sources is trusted: the check needs them.
    """
    for root, recorded in zip(manifest["roots"], manifest["listing"], strict=True):
        folder = Path(root)
        if not folder.is_dir():
            continue
        now = {name: (size, mtime) for name, size, mtime in list_sources(folder)}
        then = {name: (size, mtime) for name, size, mtime in recorded}
        changed = sorted(n for n in now.keys() & then.keys() if now[n] != then[n])
        added, removed = sorted(now.keys() - then.keys()), sorted(then.keys() - now.keys())
        if changed or added or removed:
            first = (changed or added or removed)[0]
            return (f"{folder / first} and the rest of {folder} changed since packing "
                    f"({len(changed)} changed, {len(added)} added, {len(removed)} removed)")
    return None


def read_manifest(store: str | Path) -> dict[str, Any]:
    """The manifest of a finished, current, complete store; a one-line error otherwise."""
    store = Path(store)
    path = store / MANIFEST_NAME
    if not path.is_file():
        if (store / PACK_LOCK_NAME).is_file():
            raise SrkitError(f"{store}: unfinished srkit store (its pack was interrupted or is "
                             "still running); run the same srkit pack command to finish it")
        raise SrkitError(f"{store}: not a srkit store (no {MANIFEST_NAME})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        foreign = not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT
    except (OSError, ValueError) as exc:
        raise SrkitError(f"{path}: unreadable store manifest ({exc})") from None
    if foreign:
        raise SrkitError(f"{path}: not a srkit image store manifest")
    version = manifest.get("format_version")
    if version != STORE_FORMAT_VERSION:
        raise SrkitError(f"{store}: store format {version} (written by srkit "
                         f"{manifest.get('srkit_version')}); srkit {__version__} reads format "
                         f"{STORE_FORMAT_VERSION}: {pack_command(manifest, store)} into a new folder")
    stale = _stale_reason(manifest)
    if stale is not None:
        raise SrkitError(f"{store}: stale store: {stale}; update it with "
                         f"{pack_command(manifest, store)}")
    for shard in manifest["shards"]:
        shard_path = store / shard["file"]
        size = shard_path.stat().st_size if shard_path.is_file() else None
        if size != shard["bytes"]:
            found = "missing" if size is None else f"{size} of {shard['bytes']} bytes"
            raise SrkitError(f"{shard_path}: truncated store shard ({found}); repair the store "
                             f"with {pack_command(manifest, store)}")
    return manifest


@dataclass(frozen=True)
class _Location:
    """Where one image's (3,H,W) uint8 pixels lie: shard index and byte offset."""

    shard: int
    offset: int
    height: int
    width: int


class PackedPixels:
    """uint8 pixels (3,H,W) of a store's image groups (one image, or an LR/HR pair), memory mapped.

    The same interface as :class:`srkit.data.probe.PixelStore`, so a crop dataset reads a store
    exactly as it reads a folder. ``groups`` name the source files. Shards are mapped lazily in
    each process (read-only), so any number of DataLoader workers and ranks share the page cache.
    """

    def __init__(self, store: str | Path, kind: str, min_size: int, what: str) -> None:
        """Open ``store`` of ``kind`` (``images`` or ``pairs``); groups whose smallest image is
        under ``min_size`` are skipped with a warning naming ``what``, as a folder's are."""
        self.store = Path(store)
        self.manifest = read_manifest(self.store)
        if self.manifest["kind"] != kind:
            raise SrkitError(f"{self.store}: a store of {self.manifest['kind']} where {kind} are "
                             "expected (pack with --lr-dir for HR/LR pairs, without it for images)")
        roots = [Path(r) for r in self.manifest["roots"]]
        self.groups: list[tuple[ImageFile, ...]] = []
        self._locations: list[tuple[_Location, ...]] = []
        for group in self.manifest["groups"]:
            files = tuple(ImageFile(roots[f["root"]] / f["name"], f["height"], f["width"])
                          for f in group)
            if is_too_small(files[0], min_size, what):
                continue
            self.groups.append(files)
            self._locations.append(tuple(_Location(f["shard"], f["offset"], f["height"], f["width"])
                                         for f in group))
        self.shard_files = [self.store / s["file"] for s in self.manifest["shards"]]
        self._maps: dict[int, np.ndarray] = {}

    @property
    def scale(self) -> int | None:
        """The HR/LR factor of a pair store (``None`` for an image store)."""
        return self.manifest.get("scale")

    def __len__(self) -> int:
        return len(self.groups)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for spawned workers without the maps: each process maps the shards itself."""
        return {**self.__dict__, "_maps": {}}

    def _shard(self, index: int) -> np.ndarray:
        mapped = self._maps.get(index)
        if mapped is None:
            mapped = np.load(self.shard_files[index], mmap_mode="r")
            self._maps[index] = mapped
        return mapped

    def _pixels(self, where: _Location) -> Tensor:
        flat = self._shard(where.shard)[where.offset : where.offset + 3 * where.height * where.width]
        with warnings.catch_warnings():  # read-only by design: crops are copied, never written
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(flat).view(3, where.height, where.width)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(self._pixels(where) for where in self._locations[index])


def disk_bytes(store: str | Path) -> int:
    """Bytes the store's files take on disk (allocated blocks where the OS reports them)."""
    total = 0
    for entry in os.scandir(store):
        if entry.is_file():
            stat = entry.stat()
            total += getattr(stat, "st_blocks", 0) * 512 or stat.st_size
    return total
