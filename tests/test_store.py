"""Packed image stores (``srkit pack``): same crops as the folder, refused when they could lie,
resumable packing, and one-line errors for bad input."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from srkit.data import HRCropDataset, LRCropDataset, PairedCropDataset
from srkit.data import packing as packing_module
from srkit.data.packing import pack
from srkit.data.store import MANIFEST_NAME, read_manifest
from srkit.errors import SrkitError
from srkit.plugins import reset_registry
from tests.cli_helpers import expect_one_line_error, run_cli
from tests.fake_recipe import make_image_folder, tiny_args
from tests.test_training_ddp import run_two_processes


def _images(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k, (h, w) in enumerate(sizes):
        Image.fromarray((rng.random((h, w, 3)) * 255).astype("uint8")).save(folder / f"{k:04d}.png")
    return folder


def _div2k_pairs(root: Path, scale: int = 2) -> tuple[Path, Path]:
    """HR ``0000.png`` ... and LR ``0000x2.png`` ... (the LR a box-downscaled HR)."""
    hr = _images(root / "hr", [(40, 48), (36, 44), (44, 40)])
    (root / "lr").mkdir()
    for path in sorted(hr.iterdir()):
        with Image.open(path) as image:
            small = image.resize((image.width // scale, image.height // scale), Image.Resampling.BOX)
            small.save(root / "lr" / f"{path.stem}x{scale}.png")
    return hr, root / "lr"


def _same_items(a: torch.utils.data.Dataset, b: torch.utils.data.Dataset, count: int) -> None:
    for index in range(count):
        torch.manual_seed(index)
        first = a[index]
        torch.manual_seed(index)
        second = b[index]
        pairs = zip(first, second, strict=True) if isinstance(first, tuple) else [(first, second)]
        for x, y in pairs:
            assert torch.equal(x, y), index


# ---- the store serves exactly what the folder serves --------------------------------------------


def test_image_store_crops_equal_the_folder_crops_with_augmentation(tmp_path: Path) -> None:
    folder = _images(tmp_path / "hr", [(40, 48), (60, 34), (35, 35), (50, 50)])
    pack(folder, tmp_path / "store", workers=0, shard_bytes=6000, progress=False)
    assert len(read_manifest(tmp_path / "store")["shards"]) > 1
    from_folder = HRCropDataset(folder, 16, 2, repeat=2)
    from_store = HRCropDataset(tmp_path / "store", 16, 2, repeat=2)
    assert from_store.paths == from_folder.paths and len(from_store) == 8
    _same_items(from_folder, from_store, 8)
    _same_items(LRCropDataset(folder, 12), LRCropDataset(tmp_path / "store", 12), 4)


def test_pair_store_crops_equal_the_paired_folders(tmp_path: Path, capsys) -> None:
    hr, lr = _div2k_pairs(tmp_path)
    code, out, err = run_cli(capsys, "pack", str(hr), str(tmp_path / "store"), "--lr-dir", str(lr),
                             "--scale", "2", "--workers", "0")
    assert code == 0, err
    assert "packed 3 HR/LR pairs" in out and "disk: " in out and "of decoded pixels (" in out
    folders = PairedCropDataset(hr, lr, 16, 2)
    store = PairedCropDataset(tmp_path / "store", None, 16, 2)
    assert store.pairs == folders.pairs
    _same_items(folders, store, 3)
    with pytest.raises(SrkitError, match="store of x2 pairs, but the run is x4"):
        PairedCropDataset(tmp_path / "store", None, 16, 4)
    with pytest.raises(SrkitError, match="a store of pairs where images are expected"):
        HRCropDataset(tmp_path / "store", 16, 2)


def test_training_from_a_store_is_bit_identical_to_training_from_its_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Two worker processes each; same crops, same batches, so the same weights."""
    monkeypatch.setenv("SRKIT_PLUGIN_MODULES", "tests.fake_recipe")
    reset_registry()
    folder = make_image_folder(tmp_path / "hr", count=3, size=(40, 44))
    val = make_image_folder(tmp_path / "val")
    pack(folder, tmp_path / "store", workers=0, progress=False)
    for name, data in (("folder", folder), ("store", tmp_path / "store")):
        argv = tiny_args(tmp_path / name, val, "--data", str(data), "--workers", "2", iters=4)
        code, _, err = run_cli(capsys, *argv)
        assert code == 0, err
    reset_registry()
    a = load_file(tmp_path / "folder" / "model.safetensors")
    b = load_file(tmp_path / "store" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (tmp_path / "store" / "log.jsonl").read_text().splitlines()]
    assert all(0.0 <= e["data_wait"] <= 1.0 for e in log if "it_per_s" in e)


# ---- a store that cannot lie ---------------------------------------------------------------------


def test_changed_source_makes_the_store_stale_until_packed_again(tmp_path: Path) -> None:
    folder = _images(tmp_path / "hr", [(40, 40), (40, 40)])
    store = tmp_path / "store"
    pack(folder, store, workers=0, progress=False)
    _images(tmp_path / "other", [(40, 40)], seed=5)
    os.replace(tmp_path / "other" / "0000.png", folder / "0001.png")
    with pytest.raises(SrkitError, match=r"stale store: .*0001\.png .*1 changed.*srkit pack"):
        HRCropDataset(store, 16, 2)
    result = pack(folder, store, workers=0, progress=False)
    assert result.shards_written == 1
    _same_items(HRCropDataset(folder, 16, 2), HRCropDataset(store, 16, 2), 2)


def test_truncated_foreign_and_unfinished_stores_are_refused_by_name(tmp_path: Path) -> None:
    folder = _images(tmp_path / "hr", [(40, 40)])
    store = tmp_path / "store"
    pack(folder, store, workers=0, progress=False)
    shard = store / "shard-00000.npy"
    data = shard.read_bytes()
    shard.write_bytes(data[:-10])
    with pytest.raises(SrkitError, match=r"shard-00000\.npy: truncated store shard"):
        HRCropDataset(store, 16, 2)
    shard.write_bytes(data)

    manifest = json.loads((store / MANIFEST_NAME).read_text())
    (store / MANIFEST_NAME).write_text(json.dumps({**manifest, "format": "someone-else"}))
    with pytest.raises(SrkitError, match="not a srkit image store manifest"):
        HRCropDataset(store, 16, 2)
    (store / MANIFEST_NAME).write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(SrkitError, match="store format 99 .* reads format 1"):
        HRCropDataset(store, 16, 2)
    (store / MANIFEST_NAME).unlink()
    with pytest.raises(SrkitError, match="unfinished srkit store"):
        HRCropDataset(store, 16, 2)


# ---- packing: resumable, atomic, one-line errors -------------------------------------------------


def test_interrupted_pack_resumes_keeping_finished_shards(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _images(tmp_path / "hr", [(40, 40)] * 4)
    store = tmp_path / "store"
    real_decode, calls = packing_module._decode, []

    def killed_at_the_third_image(files):
        calls.append(files)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_decode(files)

    monkeypatch.setattr(packing_module, "_decode", killed_at_the_third_image)
    with pytest.raises(KeyboardInterrupt):
        pack(folder, store, workers=0, shard_bytes=2 * 3 * 40 * 40, progress=False)
    monkeypatch.setattr(packing_module, "_decode", real_decode)
    assert not (store / MANIFEST_NAME).exists()
    assert sorted(p.name for p in store.iterdir()) == [".pack.lock", "shard-00000.json",
                                                       "shard-00000.npy"]  # no torn temp file
    first = (store / "shard-00000.npy").stat().st_ino

    result = pack(folder, store, workers=0, shard_bytes=2 * 3 * 40 * 40, progress=False)
    assert (result.shards_written, result.shards_reused) == (1, 1)
    assert (store / "shard-00000.npy").stat().st_ino == first
    _same_items(HRCropDataset(folder, 16, 2), HRCropDataset(store, 16, 2), 4)


def test_full_disk_during_pack_is_one_line_and_leaves_an_unfinished_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    folder = _images(tmp_path / "hr", [(40, 40)] * 2)
    store = tmp_path / "store"

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(packing_module.os, "fsync", full)
    err = expect_one_line_error(["pack", str(folder), str(store), "--workers", "0"], capsys)
    assert "No space left on device" in err and "run the same command to resume" in err
    monkeypatch.undo()
    with pytest.raises(SrkitError, match="unfinished srkit store"):
        HRCropDataset(store, 16, 2)
    assert pack(folder, store, workers=0, progress=False).groups == 2


def test_broken_images_are_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = _images(tmp_path / "hr", [(40, 40)] * 3)
    (folder / "0001.png").write_bytes((folder / "0001.png").read_bytes()[:200])  # truncated
    (folder / "9999.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning) as caught:
        result = pack(folder, tmp_path / "store", workers=0, progress=False)
    messages = " ".join(str(w.message) for w in caught)
    assert "0001.png" in messages and "9999.png" in messages
    assert result.groups == 2
    assert [p.name for p in HRCropDataset(tmp_path / "store", 16, 2).paths] == ["0000.png",
                                                                               "0002.png"]


@pytest.mark.parametrize("problem", ["not empty", "inside source", "no --scale", "read-only",
                                     "busy"])
def test_bad_pack_destination_is_one_line(problem: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    folder = _images(tmp_path / "hr", [(40, 40)])
    store, extra = tmp_path / "store", []
    if problem == "not empty":
        store.mkdir()
        (store / "notes.txt").write_text("mine")
    elif problem == "inside source":
        store = folder / "store"
    elif problem == "no --scale":
        extra = ["--lr-dir", str(folder)]
    elif problem == "read-only":
        def refuse(path: Path) -> None:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        monkeypatch.setattr("srkit.writable.probe_write", refuse)
    elif problem == "busy":
        import fcntl

        store.mkdir()
        holder = os.open(store / ".pack.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(holder, fcntl.LOCK_EX)
    err = expect_one_line_error(["pack", str(folder), str(store), "--workers", "0", *extra], capsys)
    expected = {"not empty": "not empty and not a srkit store (holds notes.txt)",
                "inside source": "must not be inside", "no --scale": "--lr-dir needs --scale",
                "read-only": "STORE is not writable", "busy": "another srkit pack"}[problem]
    assert expected in err
    if problem == "not empty":
        assert (store / "notes.txt").read_text() == "mine"


# ---- many processes ------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_process_run_reads_one_store(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "hr", count=4, size=(40, 44))
    val = make_image_folder(tmp_path / "val")
    pack(folder, tmp_path / "store", workers=0, progress=False)
    out, dumps = tmp_path / "run", tmp_path / "dumps"
    result = run_two_processes(tmp_path, tiny_args(out, val, "--data", str(tmp_path / "store"),
                                                   "--workers", "1", iters=4), dumps)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (load_file(dumps / f"rank{r}.safetensors") for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)


# ---- the data wait is visible --------------------------------------------------------------------


def test_data_wait_is_in_the_plain_line_and_warned_about_once_naming_srkit_pack() -> None:
    from srkit.config import TrainConfig
    from srkit.training.report import RunProgress

    config = TrainConfig(iters=100, data="some/folder", log_every=10)
    progress = RunProgress(config, torch.device("cpu"), 0, [(1, "train")], plain_lines=True)
    lines = [progress.on_record({"iteration": 10 * k, "it_per_s": 2.0, "data_wait": wait})
             for k, wait in ((1, 0.9), (2, 0.35), (3, 0.5))]
    assert "data 90% of step time" in lines[0][-1]
    assert not any(line.startswith("warning") for line in lines[0])  # the warm-up window
    warnings = [line for batch in lines for line in batch if line.startswith("warning")]
    assert warnings == ["warning: the step waited for data 35% of its time over the last 10 "
                        "iterations: pack the images once with srkit pack some/folder STORE and "
                        "train with --data STORE, or raise --workers (now 2)"]


def test_start_summary_names_srkit_pack_for_a_folder_too_big_to_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from srkit.data import probe
    from srkit.training.batches import _slow_folder_notes

    folder = _images(tmp_path / "hr", [(40, 40)] * 2)
    monkeypatch.setattr(probe, "CACHE_LIMIT_BYTES", 100)
    notes = _slow_folder_notes(str(folder), HRCropDataset(folder, 16, 2))
    assert len(notes) == 1 and "every crop decodes a whole image" in notes[0]
    assert f"srkit pack {folder} STORE" in notes[0]
    pack(folder, tmp_path / "store", workers=0, progress=False)
    assert _slow_folder_notes(str(tmp_path / "store"), HRCropDataset(tmp_path / "store", 16, 2)) == []
