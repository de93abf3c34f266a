"""Folder datasets: crop sizes, alignment, skipping bad files, seeded determinism, bundled sets."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from srkit.cli import main
from srkit.data import (
    BUNDLED_DATASETS,
    HRCropDataset,
    LRCropDataset,
    PairedCropDataset,
    bundled_path,
    resolve_dataset,
)
from srkit.data.augment import random_flip_rotate
from srkit.degradations.imresize import imresize
from srkit.errors import SrkitError
from srkit.imageio import list_images, load_image


def _write_image(path: Path, width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def _hr_folder(root: Path, count: int = 3) -> Path:
    for i in range(count):
        _write_image(root / f"img{i}.png", seed=i)
    return root


def _paired_folders(root: Path, count: int = 3) -> tuple[Path, Path]:
    """HR 64x48 images and their x4 LR partners (16x12), paired by name."""
    for i in range(count):
        _write_image(root / "hr" / f"img{i}.png", seed=i)
        _write_image(root / "lr" / f"img{i}.png", width=16, height=12, seed=i)
    return root / "hr", root / "lr"


def _occurs_in(crop: torch.Tensor, image: torch.Tensor) -> bool:
    """Whether ``crop`` (3,p,p) is a sub-block of ``image`` (3,H,W)."""
    size = crop.shape[-1]
    windows = image.unfold(1, size, 1).unfold(2, size, 1)  # (3, H-p+1, W-p+1, p, p)
    return bool((windows == crop[:, None, None]).all(0).all(-1).all(-1).any())


# HR crops


def test_hr_crops_have_the_patch_size_and_come_from_the_images(tmp_path: Path) -> None:
    folder = _hr_folder(tmp_path / "hr")
    dataset = HRCropDataset(folder, patch_size=16, scale=4, augment=False, repeat=2)
    assert len(dataset) == 6
    for index in range(len(dataset)):
        crop = dataset[index]
        assert crop.shape == (3, 16, 16) and crop.dtype == torch.float32
        assert _occurs_in(crop, load_image(dataset.paths[index % 3]))


def test_augmented_crop_is_a_dihedral_transform_of_an_image_block(tmp_path: Path) -> None:
    folder = _hr_folder(tmp_path / "hr", count=1)
    image = load_image(folder / "img0.png")
    torch.manual_seed(3)
    for _ in range(8):
        crop = HRCropDataset(folder, 8, 2, augment=True)[0]
        candidates = [crop, crop.flip(-1), crop.flip(-2), crop.flip(-1).flip(-2)]
        candidates += [c.transpose(-1, -2) for c in candidates]
        assert any(_occurs_in(c, image) for c in candidates)


def test_too_small_image_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    folder = _hr_folder(tmp_path / "hr", count=2)
    _write_image(folder / "tiny.png", width=20, height=40)
    with pytest.warns(UserWarning, match="tiny.png: 20x40 is smaller than the 32x32 crop; skipped"):
        dataset = HRCropDataset(folder, 32, 4)
    assert [p.name for p in dataset.paths] == ["img0.png", "img1.png"]
    assert len(dataset) == 2


def test_folder_with_only_too_small_images_is_one_error_with_the_crop_they_allow(
        tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    _write_image(tmp_path / "hr" / "tiny.png", width=20, height=24)
    _write_image(tmp_path / "hr" / "small.png", width=30, height=28)
    with pytest.raises(SrkitError, match=r"every image is smaller than the 32x32 crop \(the largest "
                       r"crop they all allow is 20x20\); ask for 20"):
        HRCropDataset(tmp_path / "hr", 32, 4, size_hint=lambda side: f"ask for {side}")
    assert not recwarn.list


def test_many_too_small_images_are_one_warning(tmp_path: Path) -> None:
    folder = _hr_folder(tmp_path / "hr", count=1)
    for index in range(3):
        _write_image(folder / f"tiny{index}.png", width=20 + index, height=40)
    with pytest.warns(UserWarning) as caught:
        dataset = HRCropDataset(folder, 32, 4, size_hint=lambda side: f"ask for {side}")
    assert len(caught) == 1
    assert re.search(r"3 of 4 images are smaller than the 32x32 crop .*20x20 crop keeps them all\); "
                     r"ask for 20", str(caught[0].message))
    assert len(dataset) == 1


def test_training_on_too_small_photos_names_the_patch_size_to_pass(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for index in range(2):
        _write_image(tmp_path / "hr" / f"img{index}.png", width=50, height=45 + index)
    with pytest.raises(SystemExit):
        main(["train", "srresnet", "--data", str(tmp_path / "hr"), "--out", str(tmp_path / "run"),
              "--iters", "1", "--workers", "0", "--device", "cpu", "--val", str(tmp_path / "hr")])
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "every image is smaller than the 96x96 crop" in err
    assert "pass --patch-size 44 or smaller (a multiple of --scale 4)" in err


@pytest.mark.parametrize("cache", [True, False])
def test_unreadable_file_among_good_ones_is_skipped_with_a_warning(
    tmp_path: Path, cache: bool
) -> None:
    folder = _hr_folder(tmp_path / "hr", count=2)
    data = (folder / "img0.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 3])
    (folder / "junk.jpg").write_text("not an image")
    with pytest.warns(UserWarning) as record:
        dataset = HRCropDataset(folder, 16, 4, cache=cache)
    messages = [str(w.message) for w in record]
    assert any("junk.jpg: cannot read image" in m for m in messages)
    if cache:  # a truncated file passes the header check; decoding it up front catches it
        assert any("cut.png: cannot read image" in m for m in messages)
        assert [p.name for p in dataset.paths] == ["img0.png", "img1.png"]
    else:  # read per item: the truncated file is found when its turn comes
        assert [p.name for p in dataset.paths] == ["cut.png", "img0.png", "img1.png"]
        with pytest.warns(UserWarning, match="cut.png: cannot read image .*using the next image"):
            assert dataset[0].shape == (3, 16, 16)


def test_missing_and_empty_folders_are_one_line_errors(tmp_path: Path) -> None:
    missing = re.escape(f"{tmp_path / 'nope'}: no such folder")
    with pytest.raises(SrkitError, match=f"^{missing}$"):
        HRCropDataset(tmp_path / "nope", 16, 4)
    (tmp_path / "empty").mkdir()
    empty = re.escape(f"{tmp_path / 'empty'}: no images found")
    with pytest.raises(SrkitError, match=f"^{empty}"):
        LRCropDataset(tmp_path / "empty", 8)


def test_same_torch_seed_gives_the_same_crops(tmp_path: Path) -> None:
    dataset = HRCropDataset(_hr_folder(tmp_path / "hr"), 16, 4)
    torch.manual_seed(7)
    first = [dataset[i] for i in range(3)]
    torch.manual_seed(7)
    second = [dataset[i] for i in range(3)]
    torch.manual_seed(8)
    third = [dataset[i] for i in range(3)]
    assert torch.equal(torch.stack(first), torch.stack(second))
    assert not torch.equal(torch.stack(first), torch.stack(third))


def test_cached_and_lazy_loading_give_identical_crops(tmp_path: Path) -> None:
    folder = _hr_folder(tmp_path / "hr")
    torch.manual_seed(1)
    cached = [HRCropDataset(folder, 16, 4, cache=True)[i] for i in range(3)]
    torch.manual_seed(1)
    lazy = [HRCropDataset(folder, 16, 4, cache=False)[i] for i in range(3)]
    assert torch.equal(torch.stack(cached), torch.stack(lazy))


def test_dataloader_with_workers_is_reproducible_from_the_seed(tmp_path: Path) -> None:
    dataset = HRCropDataset(_hr_folder(tmp_path / "hr"), 16, 4, repeat=2)

    def batches() -> list[torch.Tensor]:
        torch.manual_seed(5)
        loader = DataLoader(dataset, batch_size=2, shuffle=True, num_workers=2)
        return list(loader)

    assert torch.equal(torch.cat(batches()), torch.cat(batches()))


# augment module


def test_random_flip_rotate_applies_one_transform_to_all_tensors() -> None:
    a = torch.arange(16.0).view(1, 4, 4)
    b = a * 10
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        ta, tb = random_flip_rotate(a, b, generator=generator)
        assert torch.equal(tb, ta * 10)
        seen.add(tuple(ta.flatten().tolist()))
    assert len(seen) == 8  # every element of the dihedral group occurs


# paired crops


def _make_lr_with_degrade(hr: Path, lr: Path, scale: int, *extra: str) -> None:
    main(["degrade", str(hr), str(lr), "--scale", str(scale), *extra])


@pytest.mark.parametrize("div2k_names", [False, True])
def test_paired_crops_are_aligned_with_degrade_output(tmp_path: Path, div2k_names: bool) -> None:
    hr_folder = tmp_path / "hr"
    _write_image(hr_folder / "a.png", width=63, height=50, seed=1)  # not a multiple of 2
    _write_image(hr_folder / "b.png", width=48, height=64, seed=2)
    naming = ["--div2k-names"] if div2k_names else []
    _make_lr_with_degrade(hr_folder, tmp_path / "lr", 2, *naming)
    dataset = PairedCropDataset(hr_folder, tmp_path / "lr", patch_size=32, scale=2, augment=True)
    torch.manual_seed(0)
    border = 2  # LR pixels whose bicubic kernel reaches outside the HR crop
    for index in range(len(dataset)):
        for _ in range(4):
            lr, hr = dataset[index]
            assert lr.shape == (3, 16, 16) and hr.shape == (3, 32, 32)
            expected = imresize(hr[None], size=(16, 16))[0]
            inner = (slice(None), slice(border, -border), slice(border, -border))
            # LR files hold 8-bit values: at most half a step off the exact bicubic
            assert (lr[inner] - expected[inner]).abs().max() <= 0.5 / 255 + 1e-4


def test_paired_lr_of_the_wrong_size_is_an_error_naming_it(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "0001.png", width=64, height=48)
    _write_image(tmp_path / "lr" / "0001x4.png", width=16, height=13)
    with pytest.raises(SrkitError) as info:
        PairedCropDataset(tmp_path / "hr", tmp_path / "lr", 16, 4)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'lr' / '0001x4.png'}: LR is 16x13")
    assert "needs 16x12" in message and "\n" not in message


def test_hr_without_an_lr_partner_is_skipped_with_a_warning(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "a.png")
    _write_image(tmp_path / "hr" / "b.png")
    _write_image(tmp_path / "lr" / "a.png", width=16, height=12)
    with pytest.warns(UserWarning, match=r"b.png: no LR image named b\.\* or bx4\.\*"):
        dataset = PairedCropDataset(tmp_path / "hr", tmp_path / "lr", 16, 4)
    assert [(lr.name, hr.name) for lr, hr in dataset.pairs] == [("a.png", "a.png")]


def test_paired_same_seed_same_crops(tmp_path: Path) -> None:
    _write_image(tmp_path / "hr" / "a.png")
    _make_lr_with_degrade(tmp_path / "hr", tmp_path / "lr", 4)
    dataset = PairedCropDataset(tmp_path / "hr", tmp_path / "lr", 16, 4)
    torch.manual_seed(2)
    first = dataset[0]
    torch.manual_seed(2)
    second = dataset[0]
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


# LR-only and whole images


def test_lr_crops_of_any_image_size(tmp_path: Path) -> None:
    _write_image(tmp_path / "lr" / "odd.png", width=37, height=23)
    _write_image(tmp_path / "lr" / "big.png", width=64, height=48)
    dataset = LRCropDataset(tmp_path / "lr", 12, repeat=3)
    assert len(dataset) == 6
    assert all(dataset[i].shape == (3, 12, 12) for i in range(6))


@pytest.mark.parametrize("make", [
    lambda root, **kw: HRCropDataset(_hr_folder(root / "hr"), 16, 4, **kw),
    lambda root, **kw: PairedCropDataset(*_paired_folders(root), 16, 4, **kw),
    lambda root, **kw: LRCropDataset(_hr_folder(root / "lr"), 12, **kw),
], ids=["hr", "paired", "lr"])
def test_every_crop_dataset_takes_the_same_options_and_refuses_a_misspelt_one(make, tmp_path: Path
                                                                            ) -> None:
    plain = make(tmp_path / "a")
    assert (plain.augment, plain.repeat, len(plain)) == (True, 1, 3)
    chosen = make(tmp_path / "b", augment=False, repeat=4, cache=False)
    assert (chosen.augment, chosen.repeat, len(chosen), chosen._store.cached) == (False, 4, 12, False)
    with pytest.raises(TypeError, match="augmnet"):
        make(tmp_path / "c", augmnet=False)
    with pytest.raises(SrkitError, match="repeat must be a positive integer"):
        make(tmp_path / "d", repeat=0)


def test_a_bad_option_is_reported_before_any_folder_is_read(tmp_path: Path) -> None:
    with pytest.raises(SrkitError, match="repeat must be a positive integer"):
        HRCropDataset(tmp_path / "missing", 16, 4, repeat=0)
    with pytest.raises(TypeError, match="augmnet"):
        LRCropDataset(tmp_path / "missing", 8, augmnet=False)


# bundled sets


@pytest.mark.parametrize("name", ["set5", "Set14", "PHOTOS"])
def test_bundled_sets_resolve_case_insensitively_and_hold_images(name: str) -> None:
    folder = resolve_dataset(name)
    assert folder == bundled_path(name) and folder.is_dir()
    assert len(list_images(folder)) >= 5


def test_bundled_photos_are_a_small_training_set() -> None:
    photos = list_images(bundled_path("photos"))
    assert len(photos) >= 20
    assert sum(p.stat().st_size for p in photos) < 2_000_000
    for photo in photos:
        with Image.open(photo) as image:
            assert max(image.size) == 480


def test_resolve_dataset_prefers_an_existing_folder(tmp_path: Path) -> None:
    assert resolve_dataset(str(tmp_path)) == tmp_path


def test_unknown_dataset_lists_the_bundled_names() -> None:
    with pytest.raises(SrkitError, match="not a folder and not a bundled dataset") as info:
        resolve_dataset("set99")
    assert all(name in str(info.value) for name in BUNDLED_DATASETS)
    with pytest.raises(SrkitError, match="unknown bundled dataset"):
        bundled_path("set99")
