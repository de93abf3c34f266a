"""One atomic writer for every output file: no temp file left behind, umask modes, fsync."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srkit import atomic_files
from srkit.atomic_files import atomic_save_safetensors, atomic_write_text, remove_stale_temp_files
from srkit.cli import main
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin


@pytest.fixture
def umask_022():  # noqa: ANN201
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_killed_safetensors_write_leaves_old_file_and_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "model.safetensors"
    atomic_save_safetensors({"w": torch.ones(3)}, target)

    def killed(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_save_safetensors({"w": torch.zeros(3)}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    assert torch.equal(load_file(target)["w"], torch.ones(3))


def test_file_and_folder_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(atomic_files.os, "fsync", fsync)
    atomic_write_text(tmp_path / "a.txt", "hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert synced == [False, True]  # the file, then the folder holding the rename


def test_written_files_follow_the_umask(tmp_path: Path, umask_022: None) -> None:
    atomic_write_text(tmp_path / "config.toml", "x = 1\n")
    atomic_save_safetensors({"w": torch.ones(1)}, tmp_path / "model.safetensors")
    assert _mode(tmp_path / "config.toml") == 0o644
    assert _mode(tmp_path / "model.safetensors") == 0o644


def test_stale_temp_files_of_both_naming_schemes_are_removed(tmp_path: Path) -> None:
    ours = tmp_path / ".model.safetensors.1a2b3c4d.tmp"
    legacy = tmp_path / ".tmpFW1fdi"  # what safetensors' own writer leaves when killed
    kept = tmp_path / "model.safetensors"
    for path in (ours, legacy, kept):
        path.write_bytes(b"\x00" * 8)
    assert remove_stale_temp_files(tmp_path) == sorted([ours, legacy])
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_training_run_cleans_temp_files_and_writes_umask_modes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None) -> None:
    use_tiny_plugin(monkeypatch)
    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    main(tiny_args(out, val, iters=3))
    stale = [out / ".model.safetensors.1a2b3c4d.tmp", out / "checkpoints" / ".tmpFW1fdi",
             out / "checkpoints" / ".ckpt-0000006.safetensors.5e6f7a8b.tmp"]
    for path in stale:
        path.write_bytes(b"\x00" * 8)
    main(tiny_args(out, val, "--resume", iters=6))
    assert not [p for p in stale if p.exists()]
    written = [out / "model.safetensors", out / "config.toml", out / "checkpoints" / "latest.json",
               *(out / "checkpoints").glob("ckpt-*.safetensors")]
    assert {p.name: _mode(p) for p in written} == {p.name: 0o644 for p in written}
