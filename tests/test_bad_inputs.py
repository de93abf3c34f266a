"""Hostile and broken input, one table row each: a one-line error, the right exit code, no traceback,
and nothing written.

Each row builds its inputs in a fresh folder, runs ``srkit ARGV`` in-process and checks that the
command exits with ``code``, prints exactly one ``error: ...`` line on stderr containing
``fragment`` (and no traceback), and leaves every file of the folder as it was (no new file, no
changed file, no half-written output).
"""

from __future__ import annotations

import errno
import json
import os
import struct
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from srkit import atomic_files
from srkit.cli import main
from srkit.nn.models import build_generator
from srkit.weights.files import save_weights
from tests.fake_recipe import make_image_folder, tiny_args, use_tiny_plugin

# ---- building bad files ------------------------------------------------------------------------


def tiny_weights(folder: Path, name: str = "tiny.safetensors", **meta: str) -> Path:
    """A valid x2 ``tiny`` weights file, with metadata entries replaced by ``meta``."""
    path = folder / name
    save_weights(build_generator("tiny", scale=2, channels=4), path)
    if meta:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        metadata.update(meta)
        save_file(tensors, str(path), metadata={k: v for k, v in metadata.items() if v is not None})
    return path


def with_kwargs(**kwargs: object) -> dict[str, str]:
    return {"kwargs": json.dumps({"scale": 2, "channels": 4, **kwargs})}


def garbage(folder: Path) -> Path:
    path = folder / "garbage.safetensors"
    path.write_bytes(bytes(range(256)) * 8)
    return path


def truncated(folder: Path) -> Path:
    whole = tiny_weights(folder, "whole.safetensors").read_bytes()
    path = folder / "truncated.safetensors"
    path.write_bytes(whole[: len(whole) // 2])
    (folder / "whole.safetensors").unlink()
    return path


def huge_header(folder: Path) -> Path:
    path = folder / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 60) + b'{"__metadata__": {}}')
    return path


def a_folder(folder: Path) -> Path:
    """A folder (with a file in it) where a weights file goes, e.g. a run folder or a packed store."""
    path = folder / "model.safetensors"
    path.mkdir()
    (path / "inside.txt").write_text("x")
    return path


def garbage_pth(folder: Path) -> Path:
    path = folder / "garbage.pth"
    path.write_bytes(b"not a checkpoint\n" * 50)
    return path


def truncated_pth(folder: Path) -> Path:
    path = folder / "truncated.pth"
    torch.save({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    return path


def plain_safetensors(folder: Path) -> Path:
    path = folder / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    return path


def image(folder: Path) -> Path:
    make_image_folder(folder / "images", count=1, size=(12, 12))
    return folder / "images" / "img0.png"


def unfinished_store(folder: Path) -> Path:
    """A store whose ``srkit pack`` never finished: its lock file, no manifest."""
    (folder / "store").mkdir()
    (folder / "store" / ".pack.lock").touch()
    return folder / "store"


def a_file(folder: Path) -> Path:
    path = folder / "a_file"
    path.write_text("not a folder")
    return path


def read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write probe fails as on a read-only file system (tests may run as root)."""

    def refuse(folder: Path) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))

    monkeypatch.setattr("srkit.writable.probe_write", refuse)


# ---- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad input: ``argv(folder)`` builds it and returns the command; ``fragment`` is expected
    in the one error line; ``prepare`` may patch the environment (e.g. a read-only file system)."""

    id: str
    argv: Callable[[Path], list[str]]
    fragment: str
    code: int = 2
    prepare: Callable[[pytest.MonkeyPatch], None] | None = None


def upscale(weights: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda d: ["upscale", "--device", "cpu", "--weights", str(weights(d)), str(image(d)),
                      "--out", str(d / "out")]


def info(weights: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda d: ["info", str(weights(d))]


def convert(source: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda d: ["convert", str(source(d)), str(d / "out.safetensors"), "--arch", "srresnet",
                      "--scale", "4"]


def bench(weights: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda d: ["bench", "--no-lpips", "--device", "cpu", "--models", "mine", "--weights",
                      f"mine={weights(d)}", "--datasets", str(make_image_folder(d / "set")),
                      "--scales", "2"]


def train(*extra: str, recipe: str = "tiny") -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        args = tiny_args(d / "run", make_image_folder(d / "val"), *extra)
        args[1] = recipe
        return [a.replace("{d}", str(d)) for a in args]
    return argv


#: explicit DRN sizes: the tiny runs are x2, which has no published DRN size to default to
DRN_SIZE = ("--n-feats", "4", "--n-blocks", "1")


def train_init(weights: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda d: train("--init", str(weights(d)))(d)


def meta(**entries: str) -> Callable[[Path], Path]:
    return lambda d: tiny_weights(d, "bad.safetensors", **entries)


def kwargs(**values: object) -> Callable[[Path], Path]:
    return meta(**with_kwargs(**values))


HOSTILE_WEIGHTS = [
    ("garbage bytes", garbage, "not a safetensors file"),
    ("truncated file", truncated, "not a safetensors file"),
    ("enormous header length", huge_header, "header too large"),
    ("safetensors without srkit metadata", plain_safetensors,
     "no installed converter recognises this layout"),
    ("malformed kwargs JSON", meta(kwargs="{scale: 2,"), "metadata 'kwargs' is not valid JSON"),
    ("kwargs not an object", meta(kwargs="[2, 4]"), "metadata 'kwargs' must be an object"),
    ("malformed config JSON", meta(config="{oops"), "metadata 'config' is not valid JSON"),
    ("config not an object", meta(config='"fast"'), "metadata 'config' must be an object"),
    ("malformed extras JSON", meta(extras="[dual"), "metadata 'extras' is not valid JSON"),
    ("extras entry not a prefix", meta(extras="[1]"), "metadata 'extras' must be a list of module"),
    ("unknown kind", meta(kind="vae"), "metadata 'kind' must be generator or discriminator"),
    ("empty arch", meta(arch=" "), "metadata 'arch' is empty"),
    ("float channels", kwargs(channels=4.5), "constructor argument channels must be int, got 4.5"),
    ("list channels", kwargs(channels=[4]), "constructor argument channels must be int"),
    ("string channels", kwargs(channels="4"), "constructor argument channels must be int"),
    ("bool channels", kwargs(channels=True), "constructor argument channels must be int"),
    ("negative channels", kwargs(channels=-4), "channels = -4 is out of range"),
    ("enormous channels", kwargs(channels=10**12), "is out of range"),
    ("zero scale", kwargs(scale=0), "scale = 0 must be at least 1"),
    ("unknown argument", kwargs(depth=3), "unknown constructor argument 'depth'"),
    ("object argument", kwargs(channels={"a": 1}), "constructor argument channels must be int"),
]
SHAPE_LIES = [
    ("channels larger than the tensors", kwargs(channels=4000),
     "tensors do not match the metadata (tiny {'scale': 2, 'channels': 4000})"),
    ("scale other than the tensors", meta(scale="3", kwargs=json.dumps({"scale": 3, "channels": 4})),
     "tensors do not match the metadata"),
    ("metadata scale contradicting the kwargs", meta(kwargs=json.dumps({"scale": 3, "channels": 4})),
     "metadata says x2 but the model is built with scale 3"),
]

CASES = [
    *[Case(f"info: {name}", info(make), fragment) for name, make, fragment in HOSTILE_WEIGHTS],
    *[Case(f"upscale: {name}", upscale(make), fragment)
      for name, make, fragment in HOSTILE_WEIGHTS + SHAPE_LIES],
    *[Case(f"convert: {name}", convert(make), "not a readable safetensors file")
      for name, make, _ in HOSTILE_WEIGHTS[:3]],
    Case("convert: garbage .pth", convert(garbage_pth), "cannot read checkpoint safely"),
    Case("convert: truncated .pth", convert(truncated_pth), "cannot read checkpoint safely"),
    Case("bench: enormous channels", bench(kwargs(channels=10**12)), "is out of range"),
    Case("bench: channels larger than the tensors", bench(kwargs(channels=4000)),
         "tensors do not match the metadata"),
    Case("bench: garbage bytes", bench(garbage), "not a safetensors file"),
    Case("train --init: garbage bytes", train_init(garbage), "not a safetensors file"),
    Case("train --init: malformed kwargs JSON", train_init(meta(kwargs="{")),
         "metadata 'kwargs' is not valid JSON"),
    Case("train --init: truncated file", train_init(truncated), "not a safetensors file"),
    Case("train --init: tensors of another network",
         train_init(lambda d: save_weights(build_generator("tiny", scale=2, channels=5),
                                           d / "wide.safetensors") or d / "wide.safetensors"),
         "weights do not fit this 'tiny' generator"),
    Case("info: missing file", lambda d: ["info", str(d / "nope.safetensors")], "no such weights file"),
    *[Case(f"{command}: a folder given as weights", make(a_folder), "a folder, not a weights file")
      for command, make in (("info", info), ("convert", convert), ("bench", bench))],
    Case("upscale: weights for another scale",
         lambda d: upscale(tiny_weights)(d) + ["--scale", "4"], "weights are for x2, not x4"),
    Case("upscale: missing input", lambda d: ["upscale", "--weights", str(tiny_weights(d)),
                                              str(d / "nope.png"), "--out", str(d / "out")],
         "no such file or folder"),
    Case("upscale: input not an image", lambda d: ["upscale", "--weights", str(tiny_weights(d)),
                                                   str(a_file(d)), "--out", str(d / "out")],
         "not an image file"),
    Case("upscale: neither --weights nor --model",
         lambda d: ["upscale", str(image(d)), "--out", str(d / "out")], "--weights FILE is required"),
    # outputs that cannot be written
    Case("upscale: --out under an existing file",
         lambda d: upscale(tiny_weights)(d)[:-1] + [str(a_file(d) / "sub")],
         "--out must be a folder, but this is a file"),
    Case("upscale: --out is an existing file",
         lambda d: upscale(tiny_weights)(d)[:-1] + [str(a_file(d))], "is a file"),
    Case("upscale: --out on a read-only file system", upscale(tiny_weights),
         "--out is not writable", prepare=read_only),
    Case("train: --out is an existing file",
         lambda d: train()(d) + ["--out", str(a_file(d))], "is a file"),
    Case("train: --out under an existing file",
         lambda d: train()(d) + ["--out", str(a_file(d) / "run")], "--out must be a folder"),
    Case("train: --out on a read-only file system", train(), "--out is not writable",
         prepare=read_only),
    # numeric flags, every recipe's fields checked in one place
    Case("train: --learning-rate nan", train("--learning-rate", "nan"),
         "--learning-rate must be a finite number, got nan"),
    Case("train: --learning-rate inf", train("--learning-rate", "inf"),
         "--learning-rate must be a finite number, got inf"),
    Case("train: --learning-rate 1e300", train("--learning-rate", "1e300"),
         "--learning-rate must be in (0, 1], got 1e+300"),
    Case("train: --learning-rate 0", train("--learning-rate", "0"),
         "--learning-rate must be in (0, 1], got 0"),
    Case("train: --learning-rate -1", train("--learning-rate", "-1"), "--learning-rate must be in (0, 1]"),
    Case("train: --learning-rate-gamma 0", train("--learning-rate-gamma", "0"),
         "--learning-rate-gamma must be in (0, 1]"),
    Case("train: --learning-rate-min nan", train("--learning-rate-min", "nan"),
         "--learning-rate-min must be a finite number"),
    Case("train: --batch-size 0", train("--batch-size", "0"), "--batch-size must be in [1, 65536], got 0"),
    Case("train: --iters 0", train("--iters", "0"), "--iters must be in [1, 1000000000], got 0"),
    Case("train: --scale 0", train("--scale", "0"), "--scale must be in [1, 64], got 0"),
    Case("train: --patch-size 15", train("--patch-size", "15"),
         "--patch-size 15 is not a multiple of --scale 2"),
    Case("train: --patch-size -2", train("--patch-size", "-2"), "--patch-size must be in [1, 8192], got -2"),
    Case("train: --ema 1.5", train("--ema", "1.5"), "--ema must be in [0, 1), got 1.5"),
    Case("train: --ema 1", train("--ema", "1"), "--ema must be in [0, 1)"),
    Case("train: --grad-clip -1", train("--grad-clip", "-1"), "--grad-clip must be >= 0"),
    Case("train: --workers -1", train("--workers", "-1"), "--workers must be in [0, 256], got -1"),
    Case("train: --val-every -1", train("--val-every", "-1"), "--val-every must be >= 0"),
    Case("train: --save-every 0", train("--save-every", "0"), "--save-every must be >= 1"),
    Case("train: --seed -1", train("--seed", "-1"), "--seed must be in [0, 9223372036854775807], got -1"),
    Case("train: --nan-at -5 (a plugin's own bound)", train("--nan-at", "-5"),
         "--nan-at must be >= -1"),
    Case("srresnet: --channels 0", train("--channels", "0", recipe="srresnet"),
         "--channels must be >= 1, got 0"),
    Case("srresnet: --blocks -1", train("--blocks", "-1", recipe="srresnet"),
         "--blocks must be >= 1, got -1"),
    Case("srgan: --blocks -1", train("--blocks", "-1", recipe="srgan"), "--blocks must be >= 1"),
    Case("srgan: --discriminator-learning-rate nan",
         train("--discriminator-learning-rate", "nan", recipe="srgan"),
         "--discriminator-learning-rate must be a finite number"),
    Case("srgan: --adv-weight -1", train("--adv-weight", "-1", recipe="srgan"),
         "--adv-weight must be >= 0"),
    Case("srgan: --pretrain-iters past --iters", train("--pretrain-iters", "20", recipe="srgan"),
         "--pretrain-iters 20 must not exceed --iters 6"),
    Case("drn: --dual-weight -1", train(*DRN_SIZE, "--dual-weight", "-1", recipe="drn"),
         "--dual-weight must be >= 0, got -1"),
    Case("drn: --unpaired-ratio 1.5", train(*DRN_SIZE, "--unpaired-ratio", "1.5", recipe="drn"),
         "--unpaired-ratio must be in [0, 1], got 1.5"),
    Case("drn: --n-feats -1", train(*DRN_SIZE, "--n-feats", "-1", recipe="drn"), "--n-feats must be >= 1"),
    Case("drn: --scale 3", train("--scale", "3", "--patch-size", "48", recipe="drn"),
         "DRN scale must be a power of two"),
    Case("train: --resume with --init", lambda d: train("--resume", "--init", str(tiny_weights(d)))(d),
         "--resume and --init conflict"),
    Case("train: --data-lr without --data", train("--data-lr", "{d}"),
         "--data-lr needs --data"),
    Case("train: learning_rate = nan in a config file",
         lambda d: train("--config", str(_write(d / "c.toml", "learning_rate = nan\n")))(d),
         "--learning-rate must be a finite number"),
    Case("train: wrongly typed config value",
         lambda d: train("--config", str(_write(d / "c.toml", 'iters = "many"\n')))(d),
         "iters must be int"),
    Case("train: unknown config key",
         lambda d: train("--config", str(_write(d / "c.toml", "batchsize = 3\n")))(d),
         "unknown key 'batchsize'"),
    Case("train: unknown recipe", lambda d: ["train", "nosuch"], "unknown recipe 'nosuch'"),
    Case("train: missing data folder", train("--data", "{d}/nope"), "nope"),
    Case("pack: missing source folder", lambda d: ["pack", str(d / "nope"), str(d / "store")],
         "nope: not a folder and not a bundled dataset"),
    Case("pack: STORE on a read-only file system",
         lambda d: ["pack", str(make_image_folder(d / "hr")), str(d / "store")],
         "STORE is not writable", prepare=read_only),
    Case("pack: STORE is a folder of other files",
         lambda d: ["pack", str(make_image_folder(d / "hr")), str(make_image_folder(d / "mine"))],
         "not empty and not a srkit store"),
    Case("train: --data is an unfinished store",
         lambda d: train("--data", str(unfinished_store(d)))(d), "unfinished srkit store"),
    Case("train: --resume without a checkpoint", train("--resume"), "no checkpoint to resume from"),
]


# ---- outputs over inputs, torn outputs, unwritable destinations ------------------------------


def linked(make: Callable[[Path], Path], how: str) -> Callable[[Path], tuple[Path, Path]]:
    """``(file, another name of it)``: a symbolic or a hard link beside it."""
    def build(d: Path) -> tuple[Path, Path]:
        source = make(d)
        alias = d / f"alias{''.join(source.suffixes)}"
        (alias.symlink_to if how == "symlink" else alias.hardlink_to)(source)
        return source, alias
    return build


def srresnet_weights(d: Path) -> Path:
    path = d / "srresnet.safetensors"
    if not path.exists():
        save_weights(build_generator("srresnet", scale=2, channels=4, blocks=1), path)
    return path


def export(make_out: Callable[[Path, Path], Path], fmt: str = "onnx") -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        weights = tiny_weights(d)
        return ["export", str(weights), str(make_out(d, weights)), "--format", fmt]
    return argv


def previous_file(name: str) -> Callable[[Path, Path], Path]:
    """An output that already exists (a good earlier result that must survive)."""
    def make(d: Path, weights: Path) -> Path:
        path = d / name
        path.write_bytes(b"previous good output")
        return path
    return make


def fail_while_writing(target: str, errno_code: int = errno.ENOSPC) -> Callable[[pytest.MonkeyPatch], None]:
    """``target`` (``module.function`` that writes a path given as its second argument, or its
    ``save`` method) writes half a file and fails, as on a full disk or when killed mid-write."""
    def prepare(monkeypatch: pytest.MonkeyPatch) -> None:
        module, name = target.rsplit(".", 1)
        import importlib

        owner = importlib.import_module(module) if not module.endswith("Image") else \
            importlib.import_module("PIL.Image").Image

        def torn(*args: object, **kwargs: object) -> None:
            path = next(a for a in args if isinstance(a, (str, Path)))
            Path(path).write_bytes(b"half a fi")
            raise OSError(errno_code, os.strerror(errno_code))

        monkeypatch.setattr(owner, name, torn)
    return prepare


def onnxruntime_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    from srkit.errors import SrkitError

    def disagree(model: object, path: Path, onnxruntime: object, name: Path | None = None) -> None:
        raise SrkitError(f"{name}: ONNX output differs from PyTorch by 0.5 on a 32x24 input")

    monkeypatch.setattr("srkit.weights.export.check_onnx", disagree)


def upscale_over_previous(d: Path) -> list[str]:
    argv = upscale(tiny_weights)(d)
    (d / "out").mkdir()
    (d / "out" / "img0.png").write_bytes(b"previous good upscale")
    return argv


def upscale_into_a_hard_link_of_the_input(d: Path) -> list[str]:
    source = image(d)
    (d / "out").mkdir()
    (d / "out" / "img0.png").hardlink_to(source)
    return ["upscale", "--device", "cpu", "--weights", str(tiny_weights(d)), str(source),
            "--out", str(d / "out")]


def degrade(out: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda d: ["degrade", str(make_image_folder(d / "hr", size=(16, 16))), str(out(d)),
                      "--scale", "2"]


def a_run_log(d: Path) -> Path:
    (d / "run").mkdir()
    (d / "run" / "log.jsonl").write_text('{"iteration": 2, "loss.pixel": 0.5}\n')
    return d / "run"


OUTPUT_CASES = [
    Case("export: --format onnx over its own input",
         export(lambda d, w: w), "OUT must end in .onnx"),
    Case("export: --format onnx to a symbolic link of its input",
         lambda d: ["export", *map(str, linked(tiny_weights, "symlink")(d)), "--format", "onnx"],
         "must end in .onnx"),
    Case("export: --format onnx to a hard link of its input named .onnx",
         lambda d: (lambda w: ["export", str(w), str(_hardlink(w, d / "m.onnx")), "--format",
                               "onnx"])(tiny_weights(d)), "would overwrite the input"),
    Case("export: --format official over its own input",
         lambda d: ["export", str(srresnet_weights(d)), str(srresnet_weights(d)), "--format",
                    "official"], "OUT would overwrite the input"),
    Case("export: --format onnx to a .pth name", export(lambda d, w: d / "m.pth"),
         "must end in .onnx"),
    Case("export: --format onnx into a read-only folder", export(lambda d, w: d / "m.onnx"),
         "is not writable", prepare=read_only),
    Case("export: a full disk keeps the previous .onnx", export(previous_file("m.onnx")),
         "No space left on device", prepare=fail_while_writing("torch.onnx.export")),
    Case("export: a graph onnxruntime disagrees with keeps the previous .onnx",
         export(previous_file("m.onnx")), "ONNX output differs", prepare=onnxruntime_disagrees),
    Case("convert: output over its own input (.pth.tar)",
         lambda d: ["convert", str(garbage_pth(d)), str(garbage_pth(d)), "--arch", "srresnet"],
         "DST must end in .safetensors"),
    Case("convert: output over its own input (.safetensors)",
         lambda d: ["convert", str(plain_safetensors(d)), str(plain_safetensors(d))],
         "would overwrite the input"),
    Case("convert: output a symbolic link to its input",
         lambda d: ["convert", *map(str, linked(plain_safetensors, "symlink")(d))],
         "would overwrite the input"),
    Case("convert: into a read-only folder", convert(plain_safetensors), "is not writable",
         prepare=read_only),
    Case("upscale: killed mid-write keeps the previous PNG", upscale_over_previous,
         "cannot write image", prepare=fail_while_writing("PIL.Image.Image.save", errno.EINTR)),
    Case("upscale: output a hard link of the input", upscale_into_a_hard_link_of_the_input,
         "output would overwrite the input"),
    Case("degrade: OUT_DIR read-only", degrade(lambda d: d / "lr"), "OUT_DIR is not writable",
         prepare=read_only),
    Case("degrade: OUT_DIR a symbolic link to the HR folder",
         degrade(lambda d: _symlink(d / "hr", d / "lr")), "OUT_DIR is the input"),
    Case("bench: --report read-only", lambda d: bench(tiny_weights)(d) + ["--report", str(d / "r")],
         "--report is not writable", prepare=read_only),
    Case("plot: --out over the log it reads",
         lambda d: ["plot", str(a_run_log(d)), "--out", str(d / "run" / "log.jsonl")],
         "--out must end in .png"),
    Case("plot: --out a link to the log it reads",
         lambda d: ["plot", str(a_run_log(d)), "--out",
                    str(_symlink(d / "run" / "log.jsonl", d / "plot.png"))],
         "--out would overwrite the input"),
    Case("plot: --out read-only", lambda d: ["plot", str(a_run_log(d))], "is not writable",
         prepare=read_only),
]


def _hardlink(source: Path, alias: Path) -> Path:
    alias.hardlink_to(source)
    return alias


def _symlink(source: Path, alias: Path) -> Path:
    alias.symlink_to(source)
    return alias



# ---- checkpoint records are untrusted --------------------------------------------------------


def trained(*extra: str, recipe: str = "tiny") -> Callable[[Path], Path]:
    """A finished 3-iteration run in ``d/run``; returns its checkpoint folder."""
    def build(d: Path) -> Path:
        main(train("--iters", "3", *extra, recipe=recipe)(d))
        return d / "run" / "checkpoints"
    return build


def resume_after(damage: Callable[[Path], None], *extra: str) -> Callable[[Path], list[str]]:
    """Train, let ``damage`` edit the checkpoint folder, then ``--resume`` (to iteration 9)."""
    def argv(d: Path) -> list[str]:
        damage(trained()(d))
        return train("--resume", "--iters", "9", *extra)(d)
    return argv


def edited_record(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        latest = folder / "latest.json"
        latest.write_text(json.dumps(edit(json.loads(latest.read_text()))))
    return damage


def replaced(key: str, value: object) -> Callable[[Path], None]:
    return edited_record(lambda state: {**state, key: value})


def tensor_file_linked_outside(folder: Path) -> None:
    name = json.loads((folder / "latest.json").read_text())["tensors"]
    (folder / name).unlink()
    (folder / name).symlink_to(folder.parent / "model.safetensors")


CHECKPOINT_CASES = [
    Case("train --resume: latest.json is a list", resume_after(edited_record(lambda s: [])),
         "not a checkpoint record"),
    Case("train --resume: 'sampler' a string", resume_after(replaced("sampler", "x")),
         "'sampler' must be an object"),
    Case("train --resume: negative iteration", resume_after(replaced("iteration", -5)),
         "'iteration' must be a whole number"),
    Case("train --resume: iteration a string", resume_after(replaced("iteration", "6")),
         "'iteration' must be a whole number"),
    Case("train --resume: iteration true", resume_after(replaced("iteration", True)),
         "'iteration' must be a whole number"),
    Case("train --resume: 'tensors' outside the folder",
         resume_after(replaced("tensors", "../model.safetensors")), "'tensors' must name"),
    Case("train --resume: 'tensors' an absolute path",
         resume_after(replaced("tensors", "/etc/passwd")), "'tensors' must name"),
    Case("train --resume: tensor file a link outside the folder",
         resume_after(tensor_file_linked_outside), "links outside"),
    Case("train --resume: 'config' a list", resume_after(replaced("config", [1])),
         "'config' must be an object"),
    Case("train --resume: 'best_psnr' a string", resume_after(replaced("best_psnr", "high")),
         "'best_psnr' must be a finite number"),
    Case("train --resume: 'sampler.world_size' zero",
         resume_after(replaced("sampler", {"next_step": 6, "world_size": 0})),
         "'sampler.world_size' must be a whole number"),
    Case("train --resume: optimizer state missing",
         resume_after(edited_record(lambda s: {k: v for k, v in s.items() if k != "optimizers"})),
         "the checkpoint's state does not fit this run"),
    Case("train --resume: optimizer state of another shape",
         resume_after(replaced("optimizers", {"generator": {"state": 5, "param_groups": []}})),
         "the checkpoint's state does not fit this run"),
    Case("train --resume: --channels other than the run's",
         lambda d: (trained("--channels", "4", "--blocks", "1", recipe="srresnet")(d), train(
             "--resume", "--channels", "8", "--blocks", "1", recipe="srresnet")(d))[1],
         "--channels 4 (this run: 8)"),
    Case("train --resume: --blocks other than the run's",
         lambda d: (trained("--channels", "4", "--blocks", "1", recipe="srresnet")(d), train(
             "--resume", "--channels", "4", "--blocks", "2", recipe="srresnet")(d))[1],
         "--blocks 1 (this run: 2)"),
    Case("info: latest.json is a list",
         lambda d: (edited_record(lambda s: [])(folder := trained()(d)),
                    ["info", str(folder / "latest.json")])[1], "not a checkpoint record"),
    Case("info: 'config' a string",
         lambda d: (replaced("config", "x")(folder := trained()(d)), ["info", str(folder)])[1],
         "'config' must be an object"),
]


# ---- unbounded sizes and memory limits -------------------------------------------------------


def _without_iters(argv: list[str]) -> list[str]:
    """``argv`` without its ``--iters N`` (so a config file's value is the one used)."""
    at = argv.index("--iters")
    return argv[:at] + argv[at + 2:]


def memory_left(count: int,
                source: str = "srkit.memory._rlimit_left") -> Callable[[pytest.MonkeyPatch], None]:
    """The process may allocate only ``count`` more bytes (``ulimit -v``, a cgroup limit)."""
    def prepare(monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(source, lambda: count)
    return prepare


def allocations_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding an image fails as numpy does under a memory limit (``_ArrayMemoryError``)."""
    import numpy as np

    def refuse(image: object) -> None:
        np.empty(1 << 62, dtype=np.uint8)  # raises numpy's MemoryError subclass

    monkeypatch.setattr("srkit.imageio.pil_to_tensor", refuse)


SIZE_CASES = [
    Case("train: iters = 99999999999999999999 in a config file",
         lambda d: _without_iters(train("--config", str(_write(d / "c.toml",
                                                               "iters = 99999999999999999999\n")))(d)),
         "--iters must be in [1, 1000000000], got 99999999999999999999"),
    Case("train: iters = 10**400 in a config file",
         lambda d: _without_iters(train("--config", str(_write(d / "c.toml", f"iters = {10**400}\n")))(d)),
         "got a 401-digit number"),
    Case("train: --iters 1000000001", train("--iters", "1000000001"), "--iters must be in [1, "),
    Case("train: --batch-size 100000", train("--batch-size", "100000"),
         "--batch-size must be in [1, 65536], got 100000"),
    Case("train: --patch-size 100000", train("--patch-size", "100000"), "--patch-size must be in"),
    Case("train: --workers 100000", train("--workers", "100000"), "--workers must be in [0, 256]"),
    Case("train: --keep 10**12", train("--keep", str(10**12)), "--keep must be in [1, 10000]"),
    Case("srresnet: --blocks 10**12 (no declared max)",
         train("--blocks", str(10**12), recipe="srresnet"), "--blocks must be in [1, 1000000000]"),
    Case("train: a batch of crops larger than the memory limit",
         train("--batch-size", "4096", "--patch-size", "96"),
         "--batch-size 4096 with --patch-size 96: the crops need at least",
         prepare=memory_left(10**9)),
    Case("upscale: output larger than the address-space limit", upscale(tiny_weights),
         "needs at least", prepare=memory_left(10_000)),
    Case("upscale: output larger than the cgroup limit", upscale(tiny_weights),
         "needs at least", prepare=memory_left(10_000, "srkit.memory._cgroup_left")),
    Case("upscale: decoding fails for memory", upscale(tiny_weights),
         "not enough memory to load this 12x12 image", prepare=allocations_fail),
    Case("degrade: decoding fails for memory", degrade(lambda d: d / "lr"),
         "not enough memory to load this 16x16 image", prepare=allocations_fail),
    Case("bench: decoding fails for memory", bench(tiny_weights),
         "not enough memory to load this", prepare=allocations_fail),
]


# ---- foreign files and weights that lie about themselves --------------------------------------


def text_as_weights(d: Path) -> Path:
    """A text file whose first byte is a pickle opcode (``r``): trips the restricted unpickler."""
    path = d / "r.pth"
    path.write_text("root:x:0:0\n")
    return path


def cast_weights(dtype: torch.dtype) -> Callable[[Path], Path]:
    """Real tiny weights with every tensor cast to ``dtype``, metadata intact."""
    def make(d: Path) -> Path:
        from safetensors import safe_open

        path = tiny_weights(d)
        with safe_open(str(path), "pt") as f:
            metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        save_file({k: v.to(dtype) for k, v in tensors.items()}, str(path), metadata=metadata)
        return path
    return make


FOREIGN_CASES = [
    *[Case(f"{command}: a text file starting with 'r' as weights", make(text_as_weights),
           "r.pth: not a checkpoint srkit can read (IndexError")
      for command, make in (("info", info), ("upscale", upscale), ("convert", convert),
                            ("train --init", train_init))],
    Case("bench --lpips-weights: a text file starting with 'r'",
         lambda d: [*bench(tiny_weights)(d)[:1], "--lpips-weights", str(text_as_weights(d)),
                    *bench(tiny_weights)(d)[2:]], "not a checkpoint srkit can read"),
    *[Case(f"{command}: {dtype} weights", make(cast_weights(dtype)),
           f"is stored as {code}, not as floating point")
      for dtype, code in ((torch.int8, "I8"), (torch.uint8, "U8"), (torch.int64, "I64"),
                          (torch.bool, "BOOL"))
      for command, make in (("info", info), ("upscale", upscale))],
    Case("bench: int8 weights", bench(cast_weights(torch.int8)), "is stored as I8"),
    Case("info: metadata scale 'abc'", info(meta(scale="abc")),
         "metadata 'scale' must be a whole number >= 1, got 'abc'"),
    Case("upscale: metadata scale 'abc'", upscale(meta(scale="abc")),
         "metadata 'scale' must be a whole number"),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


def run_case(case: Case, argv: list[str], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int | None, str, str | None]:
    """(exit code, stderr, traceback text if the command raised instead of exiting)."""
    if case.prepare is not None:
        case.prepare(monkeypatch)
    capsys.readouterr()
    try:
        main(argv)
        code, raised = 0, None
    except SystemExit as exc:
        code, raised = int(exc.code or 0), None
    except BaseException:  # noqa: BLE001 - any escape is the bug this module looks for
        code, raised = None, traceback.format_exc()
    return code, capsys.readouterr().err, raised


@pytest.fixture(autouse=True)
def _tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)


CASES += OUTPUT_CASES + CHECKPOINT_CASES + SIZE_CASES + FOREIGN_CASES


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_error_with_nothing_written(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    argv = case.argv(folder)  # builds the inputs, so the snapshot holds them
    before = _snapshot(folder)
    code, err, raised = run_case(case, argv, monkeypatch, capsys)
    assert raised is None, raised
    assert "Traceback" not in err, err
    assert code == case.code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert case.fragment in lines[0], lines[0]
    assert _snapshot(folder) == before, "the command wrote or changed files"


def test_disk_full_at_a_checkpoint_keeps_the_previous_one_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from srkit.training.state import read_checkpoint

    val = make_image_folder(tmp_path / "val")
    out = tmp_path / "run"
    from srkit.training import trainer as trainer_module

    real_write, real_checkpoint = atomic_files.write_durably, trainer_module.write_checkpoint
    fail_next_write = []

    def full_disk(fd: int, data: bytes) -> None:
        if fail_next_write:
            fail_next_write.clear()
            real_write(fd, data[: len(data) // 2])  # the file system filled up mid-write
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fd, data)

    def checkpoint_of_iteration_6_hits_a_full_disk(folder: Path, iteration: int, *args, **kwargs):
        if iteration == 6:
            fail_next_write.append(True)  # its first write: the checkpoint's tensor file
        return real_checkpoint(folder, iteration, *args, **kwargs)

    monkeypatch.setattr(atomic_files, "write_durably", full_disk)
    monkeypatch.setattr(trainer_module, "write_checkpoint", checkpoint_of_iteration_6_hits_a_full_disk)
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_args(out, val, iters=6))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err, err
    err = err.strip().splitlines()[-1]  # after the progress lines of the run
    assert "could not write at iteration 6 (No space left on device)" in err
    assert "the checkpoint of iteration 3" in err and "is intact" in err and "--resume" in err
    assert read_checkpoint(out / "checkpoints").iteration == 3  # loads: intact
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "best.safetensors", "ckpt-0000003.safetensors", "latest.json"]  # no torn temp file

    monkeypatch.setattr(atomic_files, "write_durably", real_write)  # space freed: resume finishes
    main([*tiny_args(out, val, iters=6), "--resume"])
    assert read_checkpoint(out / "checkpoints").iteration == 6
