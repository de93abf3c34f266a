"""Training-data throughput: a folder of PNGs vs BasicSR-style sub-images vs a packed store.

In one run, on the same images:

1. crops per second per core: random 96x96 HR crops with flips/rotations, each under its own
   seed, as the trainer's loader workers make them (``HRCropDataset``), in this process with
   one thread, per CPU-second (so a loaded machine slows the clock, not the figure), for
   - the folder as given, read per crop (what a folder too big to cache gets),
   - BasicSR-style sub-images: 480x480 PNG tiles at stride 240 (``extract_subimages.py``
     defaults), read per crop,
   - the folder packed with ``srkit pack`` (memory-mapped uint8 shards),
   - when zarr is installed, the candidate ``srkit pack`` was chosen against: one zarr v3
     array per image, 3x128x128 chunks compressed with zstd;
   and the disk bytes per pixel of each;
2. the data wait the trainer reports (share of step time blocked on the loader) for
   ``srkit train srresnet`` x4, batch 16, ``--workers 2``, from the folder and from the store
   (the first log window is left out: it holds the workers' start-up, and the batches they
   load ahead while the run validates before its first step).

Without ``--data`` the images are synthetic DIV2K-size ones: the bundled photos resized to
2040x1356 (bicubic) and saved as PNG. The last line reads
``store: N crops/s/core; folder: M crops/s/core; ratio R``. Examples:

    python benchmarks/data_throughput.py                  # 12 synthetic images, ~5 CPU-minutes
    python benchmarks/data_throughput.py --data ~/DIV2K/DIV2K_train_HR --images 24
    python benchmarks/data_throughput.py --quick          # seconds: proves it runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srkit.data import HRCropDataset, resolve_dataset
from srkit.data.packing import pack
from srkit.data.store import disk_bytes
from srkit.imageio import list_images
from srkit.training.rng import seed_cpu_rngs

DIV2K_SIZE = (2040, 1356)
SUBIMAGE, SUBIMAGE_STEP = 480, 240


def synthetic_div2k(folder: Path, count: int, size: tuple[int, int]) -> Path:
    """``count`` PNGs of ``size`` (W, H) made by resizing the bundled photos (cycled)."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = list_images(resolve_dataset("photos"))
    for k in range(count):
        with Image.open(photos[k % len(photos)]) as photo:
            photo.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(folder / f"{k:04d}.png")
    return folder


def _starts(length: int) -> list[int]:
    """Tile origins along one side: every SUBIMAGE_STEP, plus one flush with the far edge."""
    starts = list(range(0, length - SUBIMAGE + 1, SUBIMAGE_STEP))
    if starts and starts[-1] + SUBIMAGE < length:
        starts.append(length - SUBIMAGE)
    return starts


def subimages(source: list[Path], folder: Path) -> Path:
    """BasicSR-style sub-images of ``source``: overlapping 480x480 tiles, PNG compression 3."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in source:
        with Image.open(path) as image:
            image = image.convert("RGB")
            for row, top in enumerate(_starts(image.height)):
                for col, left in enumerate(_starts(image.width)):
                    tile = image.crop((left, top, left + SUBIMAGE, top + SUBIMAGE))
                    tile.save(folder / f"{path.stem}_s{row:02d}{col:02d}.png", compress_level=3)
    return folder


def crops_per_cpu_second(dataset: HRCropDataset | ZarrCrops, seconds: float, at_least: int) -> float:
    """Random augmented crops per CPU-second of this (single-threaded) process, each drawn under
    its own seed as a training loader worker draws it."""
    generator = torch.Generator().manual_seed(0)
    count, started = 0, time.process_time()
    while count < at_least or time.process_time() - started < seconds:
        seed_cpu_rngs(1000 + count)
        dataset[int(torch.randint(len(dataset), (1,), generator=generator))]
        count += 1
    return count / (time.process_time() - started)


class ZarrCrops:
    """The same crops from zarr v3 arrays (3x128x128 zstd chunks), one per image."""

    def __init__(self, sources: list[Path], folder: Path) -> None:
        import zarr
        from zarr.codecs import ZstdCodec

        from srkit.data.probe import load_checked, probe

        self.arrays = []
        for k, file in enumerate(probe(sources)):
            pixels = load_checked(file).numpy()
            array = zarr.create_array(store=str(folder / f"{k:04d}.zarr"), shape=pixels.shape,
                                      dtype="uint8", chunks=(3, 128, 128),
                                      compressors=ZstdCodec(level=3))
            array[:] = pixels
            self.arrays.append(zarr.open_array(str(folder / f"{k:04d}.zarr"), mode="r"))

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> torch.Tensor:
        from srkit.data.augment import random_flip_rotate

        array = self.arrays[index]
        top = int(torch.randint(array.shape[1] - 95, (1,)))
        left = int(torch.randint(array.shape[2] - 95, (1,)))
        (crop,) = random_flip_rotate(torch.from_numpy(array[:, top : top + 96, left : left + 96]))
        return crop.float().div_(255.0)


def files_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def data_wait(data: Path, out: Path, args: argparse.Namespace) -> float | None:
    """Mean data-wait share the trainer logs after its first window; None if the run failed."""
    command = [sys.executable, "-m", "srkit", "train", "srresnet", "--data", str(data),
               "--out", str(out), "--device", args.device, "--iters", str(args.train_iters),
               "--batch-size", "16", "--patch-size", "96", "--workers", str(args.workers),
               "--log-every", str(args.log_every), "--val-every", "0",
               "--save-every", str(args.train_iters), "--seed", "0", *args.train_option]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"  training from {data} failed: {result.stderr.strip().splitlines()[-1:]}")
        return None
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    waits = [r["data_wait"] for r in records if "data_wait" in r][1:]
    return float(np.mean(waits)) if waits else None


def _row(name: str, rate: float, disk: int, pixels: int) -> None:
    print(f"| {name} | {rate:,.1f} | {disk / pixels:.2f} | {disk / (3 * pixels):.2f}x |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder of HR images (default: synthetic "
                        "DIV2K-size images made from the bundled photos)")
    parser.add_argument("--images", type=int, default=12, help="images to use (default 12)")
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per crop path")
    parser.add_argument("--train-iters", type=int, default=12,
                        help="iterations per training run (default 12)")
    parser.add_argument("--log-every", type=int, default=4, help="log window of the training runs")
    parser.add_argument("--workers", type=int, default=2, help="--workers of the training runs")
    parser.add_argument("--train-from", choices=("both", "store", "none"), default="both",
                        help="which sources the training runs read (default both)")
    parser.add_argument("--device", default="cpu", help="device of the training runs")
    parser.add_argument("--train-option", action="append", default=[],
                        help="extra srkit train argument (repeatable, e.g. --train-option=--amp=bf16)")
    parser.add_argument("--quick", action="store_true",
                        help="2 half-size images, short measurements, 4 training steps of a "
                        "one-block SRResNet")
    args = parser.parse_args()
    if args.quick:
        args.images, args.seconds, args.train_iters, args.log_every = 2, 0.5, 4, 2
        args.train_option += ["--channels", "8", "--blocks", "1"]
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="srkit-data-throughput-") as tmp:
        work = Path(tmp)
        if args.data is None:
            size = (1020, 678) if args.quick else DIV2K_SIZE
            folder = synthetic_div2k(work / "hr", args.images, size)
            print(f"data: {args.images} synthetic {size[0]}x{size[1]} PNGs (bundled photos resized)")
        else:
            folder = work / "hr"
            folder.mkdir()
            for path in list_images(args.data)[: args.images]:
                (folder / path.name).symlink_to(path.resolve())
            print(f"data: the first {args.images} images of {args.data}")
        sources = list_images(folder)
        pixels = sum(int(np.prod(Image.open(p).size)) for p in sources)
        tiles = subimages(sources, work / "sub")
        store = work / "store"
        pack(folder, store, workers=2, progress=False)

        at_least = 3 if args.quick else 5
        paths: dict[str, tuple[Callable[[], HRCropDataset | ZarrCrops], int]] = {
            "folder, read per crop": (lambda: HRCropDataset(folder, 96, 4, cache=False),
                                      sum(p.resolve().stat().st_size for p in sources)),
            "480x480 sub-image PNGs, read per crop": (
                lambda: HRCropDataset(tiles, 96, 4, cache=False), files_bytes(tiles)),
            "srkit pack store": (lambda: HRCropDataset(store, 96, 4), disk_bytes(store)),
        }
        try:
            zarr_crops = ZarrCrops(sources, work / "zarr")
            zarr_disk = sum(p.stat().st_size for p in (work / "zarr").rglob("*") if p.is_file())
            paths["zarr v3, 3x128x128 zstd chunks"] = (lambda: zarr_crops, zarr_disk)
        except ImportError:
            print("zarr is not installed: its row is left out")
        print("\n| path | 96x96 augmented crops/s/core | disk bytes/pixel | disk vs decoded |")
        print("|---|---|---|---|")
        rates = {}
        for name, (make, disk) in paths.items():
            rates[name] = crops_per_cpu_second(make(), args.seconds, at_least)
            _row(name, rates[name], disk, pixels)

        if args.train_from != "none":
            print(f"\n| srkit train srresnet x4, batch 16, --workers {args.workers}, "
                  f"{args.device} | data wait (share of step time) |")
            print("|---|---|")
            sources_to_train = {"store": store} if args.train_from == "store" else {
                "folder": folder, "store": store}
            for name, data in sources_to_train.items():
                wait = data_wait(data, work / f"run_{name}", args)
                shown = "failed" if wait is None else f"{100 * wait:.1f}%"
                print(f"| from the {name} | {shown} |")

        store_rate, folder_rate = rates["srkit pack store"], rates["folder, read per crop"]
        print(f"\nstore: {store_rate:,.0f} crops/s/core; folder: {folder_rate:,.1f} crops/s/core; "
              f"ratio {store_rate / folder_rate:,.0f}")


if __name__ == "__main__":
    main()
