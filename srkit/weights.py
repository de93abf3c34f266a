"""Self-describing weights: safetensors files whose metadata says how to rebuild the model.

Metadata keys (all strings): ``srkit.format`` ("1"), ``arch``, ``kwargs`` (JSON), ``scale``,
``srkit_version``, optionally ``config`` (JSON of the training config), ``extras`` (JSON list
of prefixes of extra modules stored in the same file, e.g. ``["dual"]``) and ``validation``
(JSON: the run's validation PSNR/SSIM of these weights). Loading never unpickles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from srkit.atomic_files import atomic_save_safetensors
from srkit.errors import SrkitError
from srkit.models import build_discriminator, build_generator, describe, unwrap
from srkit.plugins import lookup
from srkit.version import __version__
from srkit.weights_check import build_checked

if TYPE_CHECKING:
    from srkit.convert import Converted

FORMAT_VERSION = "1"


def save_weights(model: nn.Module, path: str | os.PathLike[str], *, config: dict[str, Any] | None = None,
                 extras: Mapping[str, nn.Module | Mapping[str, torch.Tensor]] | None = None,
                 kind: str = "generator", validation: dict[str, Any] | None = None) -> None:
    """Save a network built by :func:`srkit.build_generator` with everything needed to rebuild it.

    ``validation`` is the training run's validation result for exactly these weights
    (``iteration``, ``psnr``, ``ssim``, ``set``); ``srkit info`` shows it.

    ``extras`` are further modules (or state dicts) stored under ``<prefix>.`` keys, e.g. DRN's
    dual models; :func:`load_model` ignores them, :func:`read_extras` returns them.
    """
    arch, kwargs = describe(model)
    tensors = dict(unwrap(model).state_dict())
    for prefix, extra in (extras or {}).items():
        state = unwrap(extra).state_dict() if isinstance(extra, nn.Module) else extra
        tensors.update({f"{prefix}.{k}": v for k, v in state.items()})
    metadata = {
        "srkit.format": FORMAT_VERSION,
        "kind": kind,
        "arch": arch,
        "kwargs": json.dumps(kwargs, sort_keys=True),
        "scale": str(getattr(unwrap(model), "scale", kwargs.get("scale", ""))),
        "srkit_version": __version__,
        "extras": json.dumps(sorted(extras or {})),
    }
    if config is not None:
        metadata["config"] = json.dumps(config, sort_keys=True, default=str)
    if validation is not None:
        metadata["validation"] = json.dumps(validation, sort_keys=True)
    atomic_save_safetensors(tensors, path, metadata)


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of an srkit weights file, or a one-line error naming the file."""
    path = Path(path)
    metadata, _ = read_header(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise _not_safetensors(path, exc) from None
    check_finite_tensors(path, tensors)
    return tensors, metadata


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """Metadata and tensor shapes of an srkit weights file, without reading the tensors."""
    path = Path(path)
    if not path.is_file():
        raise SrkitError(f"{path}: no such weights file")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise _not_safetensors(path, exc) from None
    if metadata.get("srkit.format") != FORMAT_VERSION or "arch" not in metadata:
        raise SrkitError(f"{path}: safetensors file without srkit metadata; convert it with 'srkit convert'")
    check_scales_agree(path, metadata)
    return metadata, shapes


def _not_safetensors(path: Path, exc: BaseException) -> SrkitError:
    return SrkitError(f"{path}: not a safetensors file ({exc}); convert foreign checkpoints with "
                      "'srkit convert'")


def check_finite_tensors(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor]) -> None:
    """Refuse weights holding NaN or infinity: they upscale every image to black."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise SrkitError(f"{path}: tensor {name!r} holds NaN or infinite values; these weights "
                             "cannot produce an image")


def check_scales_agree(path: str | os.PathLike[str], metadata: Mapping[str, str]) -> None:
    """Refuse a file whose ``scale`` metadata contradicts the ``scale`` it builds the model with."""
    try:
        kwargs = json.loads(metadata.get("kwargs", "{}"))
    except ValueError:
        return  # malformed kwargs are reported where the metadata is decoded
    stated, built = metadata.get("scale", ""), kwargs.get("scale") if isinstance(kwargs, dict) else None
    # a built scale that is no valid scale at all is reported by the kwargs check, more precisely
    if stated.isdigit() and isinstance(built, int) and built >= 1 and int(stated) != built:
        raise SrkitError(f"{path}: metadata says x{stated} but the model is built with scale {built}; "
                         "the file is inconsistent (re-export it)")


def weights_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The decoded metadata of a weights file: arch, kwargs, scale, config, extras."""
    _, metadata = read_weights(path)
    return decode_metadata(metadata, str(path))


def decode_metadata(metadata: dict[str, str], source: str = "weights file") -> dict[str, Any]:
    """The typed view of a weights file's string metadata: arch, kwargs, scale, config, extras.

    Malformed entries are a one-line error naming ``source`` and the entry.
    """
    kind = metadata.get("kind", "generator")
    if kind not in ("generator", "discriminator"):
        raise SrkitError(f"{source}: metadata 'kind' must be generator or discriminator, got {kind!r}")
    arch = metadata.get("arch", "")
    if not arch.strip():
        raise SrkitError(f"{source}: metadata 'arch' is empty")
    kwargs = _json_entry(metadata, "kwargs", "{}", dict, source)
    if not all(isinstance(k, str) for k in kwargs):
        raise SrkitError(f"{source}: metadata 'kwargs' keys must be strings")
    config = _json_entry(metadata, "config", None, dict, source) if "config" in metadata else None
    extras = _json_entry(metadata, "extras", "[]", list, source)
    if not all(isinstance(p, str) and p and "." not in p for p in extras):
        raise SrkitError(f"{source}: metadata 'extras' must be a list of module prefixes, got {extras!r}")
    return {
        "kind": kind,
        "arch": arch,
        "kwargs": kwargs,
        "scale": int(metadata["scale"]) if metadata.get("scale", "").isdigit() else None,
        "srkit_version": metadata.get("srkit_version"),
        "config": config,
        "extras": extras,
        "validation": (_json_entry(metadata, "validation", None, dict, source)
                       if "validation" in metadata else None),
    }


def _json_entry(metadata: dict[str, str], key: str, default: str | None, kind: type,
                source: str) -> Any:
    try:
        value = json.loads(metadata.get(key, default or "null"))
    except ValueError as exc:
        raise SrkitError(f"{source}: metadata {key!r} is not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else "a list"
        raise SrkitError(f"{source}: metadata {key!r} must be {expected}, got {type(value).__name__}")
    return value


def split_extras(tensors: dict[str, torch.Tensor], prefixes: list[str]) -> tuple[
    dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]
]:
    """Separate the generator's tensors from those of each extra module prefix."""
    extras: dict[str, dict[str, torch.Tensor]] = {p: {} for p in prefixes}
    main: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        prefix = next((p for p in prefixes if key.startswith(p + ".")), None)
        if prefix is None:
            main[key] = value
        else:
            extras[prefix][key[len(prefix) + 1:]] = value
    return main, extras


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu", *,
               scale: int | None = None) -> nn.Module:
    """Rebuild the generator stored in an srkit weights file, in eval mode, on ``device``.

    With ``scale`` given, weights for another scale are an error rather than a wrong result.
    """
    return load_module(path, device, scale=scale, kind="generator")


def load_module(path: str | os.PathLike[str], device: str | torch.device = "cpu", *,
                scale: int | None = None, kind: str = "generator") -> nn.Module:
    """Rebuild the generator or discriminator stored in an srkit weights file, in eval mode."""
    tensors, metadata = read_weights(path)
    info = decode_metadata(metadata, str(path))
    if info["kind"] != kind:
        raise SrkitError(f"{path}: holds a {info['kind']} ({info['arch']}), not a {kind}")
    if scale is not None and info["scale"] is not None and info["scale"] != scale:
        raise SrkitError(f"{path}: weights are for x{info['scale']}, not x{scale}")
    build = build_generator if kind == "generator" else build_discriminator
    state, _ = split_extras(tensors, info["extras"])
    factory = lookup(kind, info["arch"])
    model = build_checked(build, factory, info["arch"], info["kwargs"], state, str(path))
    _load_strict(model, state, f"{path}: weights do not match architecture {info['arch']!r}")
    model.srkit_weights_info = info  # type: ignore[assignment]  # nn.Module allows any attribute
    return model.to(device).eval()


def read_extras(path: str | os.PathLike[str]) -> dict[str, dict[str, torch.Tensor]]:
    """The extra modules' state dicts stored beside the network (e.g. ``{"dual": {...}}``)."""
    tensors, metadata = read_weights(path)
    return split_extras(tensors, decode_metadata(metadata, str(path))["extras"])[1]


def _load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], message: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:2])
        raise SrkitError(f"{message}: {detail[:300]}") from None


def save_converted(converted: Converted, path: str | os.PathLike[str], *, source: str = "") -> None:
    """Build the module a converter describes, load its tensors strictly, and save it self-describing."""
    build = build_generator if converted.kind == "generator" else build_discriminator
    module = build(converted.arch, **converted.kwargs)
    _load_strict(module, converted.state_dict, f"{source}: converted weights do not fit {converted.arch!r}")
    save_weights(module, path, extras=converted.extras, kind=converted.kind)

