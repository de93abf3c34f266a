"""Any model file a user holds: srkit weights, or a foreign checkpoint an installed converter reads.

``bench``, ``upscale``, ``info`` and ``train --init`` accept both through these functions. A
foreign file (.pth/.pt/.ckpt, or safetensors without srkit metadata) is read safely, its layout
recognised by the installed converters (srkit's own first, catch-all libraries such as spandrel
last) and converted in memory, exactly as ``srkit convert`` would write it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from srkit.errors import SrkitError


def is_srkit_weights(path: str | os.PathLike[str]) -> bool:
    """True for a safetensors file carrying srkit metadata, and for a ``.safetensors`` path that
    is missing or cannot be read at all: srkit's own reader then names what is wrong with it."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return False
    if not path.is_file():
        return True
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception:
        return True
    return "srkit.format" in metadata


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(tensors, info)`` of any model file; ``info`` as :func:`srkit.weights.files.decode_metadata` gives
    it (kind, arch, kwargs, scale, extras...), plus ``converter`` for a foreign file."""
    from srkit.weights.files import decode_metadata, read_weights

    if is_srkit_weights(path):
        tensors, metadata = read_weights(path)
        return tensors, {**decode_metadata(metadata, str(path)), "converter": None}
    from srkit.weights.convert import load_foreign_state_dict

    return _convert(load_foreign_state_dict(path), path)


def _convert(state: dict[str, Tensor], path: str | os.PathLike[str]
             ) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """:func:`read_model_file` of a foreign file whose tensors ``state`` are already loaded."""
    from srkit.weights.convert import convert_state_dict

    converted = convert_state_dict(state, source=str(path))
    tensors = dict(converted.state_dict)
    for prefix, extra in converted.extras.items():
        tensors.update({f"{prefix}.{key}": value for key, value in extra.items()})
    scale = converted.kwargs.get("scale")
    info = {"kind": converted.kind, "arch": converted.arch, "kwargs": dict(converted.kwargs),
            "scale": scale if isinstance(scale, int) else None, "srkit_version": None,
            "config": None, "extras": sorted(converted.extras), "converter": converted.converter}
    return tensors, info


def load_model_file(path: str | os.PathLike[str], device: str | torch.device = "cpu", *,
                    scale: int | None = None) -> nn.Module:
    """The generator in any model file, in eval mode on ``device``; ``scale`` is checked when given."""
    from srkit.weights.check import load_strict
    from srkit.weights.files import load_model, split_extras

    if is_srkit_weights(path):
        return load_model(path, device, scale=scale)
    tensors, info = read_model_file(path)
    _check_generator(path, info, scale)
    model = _build(info)
    state, _ = split_extras(tensors, info["extras"])
    load_strict(model, state, f"{path}: converted weights do not fit {info['arch']!r}")
    model.srkit_weights_info = info  # type: ignore[assignment]  # a plain attribute, for callers
    return model.to(device).eval()


def check_model_file(path: str | os.PathLike[str], *, scale: int | None = None) -> nn.Module:
    """Refuse a model file :func:`load_model_file` would refuse, without building its generator for
    real: returns its skeleton (on the meta device where the constructor allows), so a plan
    of many files is checked in little memory.

    A foreign file is read and converted here, and its tensors dropped on return.
    """
    from srkit.weights.check import build_on_meta, shape_mismatch, shapes_of
    from srkit.weights.files import check_module_file, split_extras

    if is_srkit_weights(path):
        return check_module_file(path, scale=scale)
    tensors, info = read_model_file(path)
    _check_generator(path, info, scale)
    skeleton = build_on_meta(lambda: _build(info))
    state, _ = split_extras(tensors, info["extras"])
    problem = shape_mismatch(skeleton.state_dict(), shapes_of(state))
    if problem is not None:
        raise SrkitError(f"{path}: converted weights do not fit {info['arch']!r}: {problem}")
    return skeleton


def _check_generator(path: str | os.PathLike[str], info: dict[str, Any], scale: int | None) -> None:
    if info["kind"] != "generator":
        raise SrkitError(f"{path}: holds a {info['kind']} ({info['arch']}), not a generator")
    if scale is not None and info["scale"] is not None and info["scale"] != scale:
        raise SrkitError(f"{path}: weights are for x{info['scale']}, not x{scale}")


def model_file_scale(path: str | os.PathLike[str]) -> int | None:
    """The scale a model file's generator upscales by (None when it does not say).

    A foreign file's scale is the one its converter's ``detect`` reads from the tensors, so the
    file is not converted here (``train --init`` converts it once, when it loads the weights);
    only a layout that does not record its scale (spandrel's, read while loading) is converted.
    """
    if is_srkit_weights(path):
        from srkit.weights.files import weights_info

        return weights_info(path)["scale"]
    from srkit.weights.convert import choose_converter, load_foreign_state_dict

    state = load_foreign_state_dict(path)
    _, scale = choose_converter(state, arch=None, scale=None, source=str(path))
    return scale if scale is not None else _convert(state, path)[1]["scale"]


def describe_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``srkit info`` shows about a foreign file: its info and parameter count.

    The network is built on the meta device where it allows (no memory, no tensor loaded).
    """
    tensors, info = read_model_file(path)
    try:
        with torch.device("meta"):
            module = _build(info)
    except RuntimeError:  # a constructor that reads values (Tensor.item()) needs real tensors
        module = _build(info)
    info["parameters"] = sum(p.numel() for p in module.parameters())
    info["tensors"] = len(tensors)
    return info


def _build(info: dict[str, Any]) -> nn.Module:
    from srkit.nn.models import build_discriminator, build_generator

    build = build_generator if info["kind"] == "generator" else build_discriminator
    return build(info["arch"], **info["kwargs"])
