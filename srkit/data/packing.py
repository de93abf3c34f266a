"""Writing a packed image store (``srkit pack``): decode every usable image once, into shards.

Images are decoded by worker processes and appended, in folder order, to shards of about
:data:`SHARD_BYTES` (standard 1-D uint8 ``.npy`` files). Each shard is written to a temp file,
fsynced and renamed, then described by ``shard-NNNNN.json``; the store's manifest is written
last. So an interrupted pack (a kill, a full disk) leaves finished shards that the next run of
the same command reuses, and never a manifest that could pass for a finished store. A second
``srkit pack`` into the same store at the same time is refused (``flock`` on ``.pack.lock``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import warnings
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from srkit.atomic_files import atomic_write_text, remove_stale_temp_files, temp_path_for
from srkit.data.pairing import paired_files
from srkit.data.probe import ImageFile, load_checked, probe
from srkit.data.store import (
    MANIFEST_NAME,
    PACK_LOCK_NAME,
    STORE_FORMAT,
    STORE_FORMAT_VERSION,
    disk_bytes,
    list_sources,
)
from srkit.errors import SrkitError
from srkit.imageio import list_images
from srkit.version import __version__
from srkit.writable import check_output_folder

try:
    import fcntl
except ImportError:  # Windows: packs are not locked
    fcntl = None  # type: ignore[assignment]

#: pixels per shard file: large enough for few open maps, small enough to resume cheaply
SHARD_BYTES = 1 << 30


@dataclass
class _Shard:
    """The planned content of one shard: file records (with offsets) per image group."""

    index: int
    groups: list[list[dict[str, Any]]] = field(default_factory=list)
    files: list[tuple[ImageFile, ...]] = field(default_factory=list)
    pixel_bytes: int = 0

    @property
    def stem(self) -> str:
        return f"shard-{self.index:05d}"


@dataclass
class PackResult:
    """What ``srkit pack`` did: image groups stored, decoded pixel bytes, bytes on disk."""

    store: Path
    groups: int
    pixel_bytes: int
    disk_bytes: int
    shards_written: int
    shards_reused: int
    skipped: list[str]


def _groups_to_pack(source: Path, lr_dir: Path | None, scale: int | None
                    ) -> list[tuple[ImageFile, ...]]:
    """Image groups in folder order: ``(image,)``, or ``(lr, hr)`` pairs with ``lr_dir``."""
    if lr_dir is None:
        return [(f,) for f in probe(list_images(source))]
    assert scale is not None  # checked by pack()
    return list(paired_files(source, lr_dir, scale, 1))


def _record(file: ImageFile, root: int) -> dict[str, Any]:
    stat = file.path.stat()
    return {"root": root, "name": file.path.name, "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "height": file.height, "width": file.width}


def _plan(groups: Sequence[tuple[ImageFile, ...]], paired: bool, shard_bytes: int) -> list[_Shard]:
    """Groups assigned to shards in order, each file given its byte offset in its shard."""
    shards: list[_Shard] = []
    for files in groups:
        size = sum(3 * f.height * f.width for f in files)
        if not shards or (shards[-1].pixel_bytes and shards[-1].pixel_bytes + size > shard_bytes):
            shards.append(_Shard(len(shards)))
        shard = shards[-1]
        roots = (1, 0) if paired else (0,)  # a pair is (lr, hr); the HR folder is root 0
        records = []
        for file, root in zip(files, roots, strict=True):
            records.append({**_record(file, root), "shard": shard.index, "offset": shard.pixel_bytes})
            shard.pixel_bytes += 3 * file.height * file.width
        shard.groups.append(records)
        shard.files.append(files)
    return shards


def _decode(files: tuple[ImageFile, ...]) -> list[np.ndarray] | str:
    """uint8 (3,H,W) arrays of one group, or the one-line reason it cannot be decoded."""
    try:
        return [load_checked(f).numpy() for f in files]
    except SrkitError as exc:
        return str(exc)


def _one_thread() -> None:
    torch.set_num_threads(1)  # each worker decodes one image; parallelism is the pool's


def _decoded(jobs: list[tuple[ImageFile, ...]], workers: int
             ) -> Generator[list[np.ndarray] | str, None, None]:
    if workers == 0 or len(jobs) <= 1:
        yield from map(_decode, jobs)
        return
    with multiprocessing.get_context().Pool(workers, initializer=_one_thread) as pool:
        yield from pool.imap(_decode, jobs, chunksize=1)


def _header_only_shard_bytes(pixel_bytes: int) -> int:
    """Bytes of a 1-D uint8 ``.npy`` file of ``pixel_bytes`` elements."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|u1", "fortran_order": False, "shape": (pixel_bytes,)})
    return buffer.tell() + pixel_bytes


def _reusable(store: Path, shard: _Shard) -> bool:
    """Whether ``shard`` was written before from exactly the same sources, completely."""
    description, npy = store / f"{shard.stem}.json", store / f"{shard.stem}.npy"
    try:
        written = json.loads(description.read_text(encoding="utf-8"))
        size = npy.stat().st_size
    except (OSError, ValueError):
        return False
    return written.get("groups") == shard.groups and size == written.get("bytes")


def _write_shard(store: Path, shard: _Shard, decoded: Iterator[list[np.ndarray] | str],
                 bar: tqdm) -> list[int]:
    """Write one shard from the next decoded groups; returns the positions of skipped groups."""
    description, npy = store / f"{shard.stem}.json", store / f"{shard.stem}.npy"
    description.unlink(missing_ok=True)  # the old description must not vouch for new bytes
    skipped = []
    tmp = temp_path_for(npy)
    try:
        with tmp.open("xb") as out:
            np.lib.format.write_array_header_1_0(
                out, {"descr": "|u1", "fortran_order": False, "shape": (shard.pixel_bytes,)})
            for position, files in enumerate(shard.files):
                pixels = next(decoded)
                if isinstance(pixels, str):
                    warnings.warn(f"{pixels}; skipped", stacklevel=2)
                    skipped.append(position)
                    out.seek(sum(3 * f.height * f.width for f in files), os.SEEK_CUR)
                else:
                    for array in pixels:
                        out.write(np.ascontiguousarray(array).tobytes())
                bar.update(1)
            out.truncate(out.tell())  # a skipped last image still leaves the planned size
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, npy)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    atomic_write_text(description, json.dumps(
        {"groups": shard.groups, "bytes": npy.stat().st_size, "skipped": skipped}))
    return skipped


@contextmanager
def _pack_lock(store: Path) -> Iterator[None]:
    """Hold ``STORE/.pack.lock``; its existence also marks the store as not yet finished."""
    fd = os.open(store / PACK_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise SrkitError(f"{store}: another srkit pack is writing this store; wait for "
                                 "it to end") from None
        yield
    finally:
        os.close(fd)


def _check_destination(store: Path) -> None:
    """``store`` is writable and new, empty or a store: packing never clobbers other files."""
    check_output_folder(store, "STORE")
    if not store.is_dir():
        return
    ours = (MANIFEST_NAME, PACK_LOCK_NAME)
    foreign = sorted(p.name for p in store.iterdir()
                     if p.name not in ours and not p.name.startswith(("shard-", ".shard-")))
    if foreign:
        raise SrkitError(f"{store}: not empty and not a srkit store (holds {foreign[0]}); choose "
                         "a new or empty folder")


def _check_sources(source: Path, store: Path, lr_dir: Path | None, scale: int | None) -> None:
    if lr_dir is not None and scale is None:
        raise SrkitError("--lr-dir needs --scale (the factor between the HR and LR images)")
    if scale is not None and scale < 1:
        raise SrkitError(f"--scale must be a positive integer, got {scale}")
    for folder in (source, lr_dir):
        if folder is not None and (store == folder or store in folder.parents
                                   or folder in store.parents):
            raise SrkitError(f"{store}: the store must not be inside {folder} or hold it")


def pack(source: str | Path, store: str | Path, *, lr_dir: str | Path | None = None,
         scale: int | None = None, workers: int = 2, shard_bytes: int = SHARD_BYTES,
         progress: bool = True) -> PackResult:
    """Pack the images of ``source`` (paired with ``lr_dir`` at ``scale`` if given) into ``store``.

    Broken or unpaired images are skipped with a warning naming them; shards written by an
    earlier, interrupted run from the same files are reused. Write errors (a full disk) become a
    one-line :class:`SrkitError` saying that the finished shards are kept.
    """
    source, store = Path(source).resolve(), Path(store).resolve()
    lr_root = None if lr_dir is None else Path(lr_dir).resolve()
    _check_sources(source, store, lr_root, scale)
    _check_destination(store)
    groups = _groups_to_pack(source, lr_root, scale)
    if not groups:
        raise SrkitError(f"{source}: no readable image to pack")
    roots = [source] if lr_root is None else [source, lr_root]
    listing = [list_sources(root) for root in roots]  # before decoding: later edits make it stale
    store.mkdir(parents=True, exist_ok=True)
    with _pack_lock(store):
        remove_stale_temp_files(store)
        shards = _plan(groups, lr_root is not None, shard_bytes)
        try:
            written, skipped = _write_shards(store, shards, workers, progress)
            manifest = _manifest(store, shards, roots, listing, scale, skipped)
        except OSError as exc:
            raise SrkitError(f"{store}: could not write the store ({exc.strerror or exc}); the "
                             "shards finished so far are kept: free space and run the same "
                             "command to resume") from None
    packed_pixels = sum(3 * f["height"] * f["width"] for g in manifest["groups"] for f in g)
    names = [roots[g[-1]["root"]] / g[-1]["name"] for s in shards
             for k, g in enumerate(s.groups) if k in skipped.get(s.index, [])]
    return PackResult(store, len(manifest["groups"]), packed_pixels, disk_bytes(store),
                      written, len(shards) - written, [str(n) for n in names])


def _write_shards(store: Path, shards: list[_Shard], workers: int, progress: bool
                  ) -> tuple[int, dict[int, list[int]]]:
    """Write every shard that cannot be reused; returns how many, and skipped groups per shard."""
    todo = [s for s in shards if not _reusable(store, s)]
    if todo:
        (store / MANIFEST_NAME).unlink(missing_ok=True)  # the store is unfinished from here on
    skipped = {}
    rewritten = {s.index for s in todo}
    for shard in shards:
        if shard.index not in rewritten:
            skipped[shard.index] = json.loads(
                (store / f"{shard.stem}.json").read_text(encoding="utf-8"))["skipped"]
    jobs = [files for shard in todo for files in shard.files]
    with tqdm(total=len(jobs), desc="pack", unit="img", disable=None if progress else True) as bar:
        decoded = _decoded(jobs, workers)
        try:
            for shard in todo:
                skipped[shard.index] = _write_shard(store, shard, decoded, bar)
        finally:
            decoded.close()  # stops the worker pool at once on any failure
    return len(todo), skipped


def _manifest(store: Path, shards: list[_Shard], roots: list[Path], listing: list[Any],
              scale: int | None, skipped: dict[int, list[int]]) -> dict[str, Any]:
    """Write (atomically, last) the manifest that makes ``store`` a finished store."""
    for extra in store.glob("shard-*"):  # shards of an earlier, longer plan
        if int(extra.stem.split("-")[1]) >= len(shards):
            extra.unlink()
    manifest = {
        "format": STORE_FORMAT, "format_version": STORE_FORMAT_VERSION,
        "srkit_version": __version__, "kind": "pairs" if len(roots) > 1 else "images",
        "scale": scale if len(roots) > 1 else None, "roots": [str(r) for r in roots],
        "listing": listing,
        "shards": [{"file": f"{s.stem}.npy",
                    "bytes": _header_only_shard_bytes(s.pixel_bytes)} for s in shards],
        "groups": [g for s in shards for k, g in enumerate(s.groups)
                   if k not in skipped.get(s.index, [])],
    }
    atomic_write_text(store / MANIFEST_NAME, json.dumps(manifest))
    return manifest
