"""Self-describing weights: safetensors files whose metadata says how to rebuild the model.

The metadata format is :mod:`srkit.weights.metadata`. Loading never unpickles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from srkit.atomic_files import atomic_save_safetensors
from srkit.errors import SrkitError, require_weights_file
from srkit.nn.models import build_discriminator, build_generator, describe, unwrap
from srkit.plugins import lookup
from srkit.threads import one_cpu_thread
from srkit.weights.check import build_checked, check_skeleton, load_strict
from srkit.weights.metadata import check_scales_agree, decode_metadata, encode_metadata, is_srkit_metadata


def save_weights(model: nn.Module, path: str | os.PathLike[str], *, config: dict[str, Any] | None = None,
                 extras: Mapping[str, nn.Module | Mapping[str, torch.Tensor]] | None = None,
                 kind: str = "generator", validation: dict[str, Any] | None = None,
                 training: dict[str, Any] | None = None) -> None:
    """Save a network built by :func:`srkit.build_generator` with everything needed to rebuild it.

    ``validation`` is the training run's validation result for exactly these weights
    (``iteration``, ``psnr``, ``ssim``, ``set``, and bicubic's ``bicubic_psnr`` and
    ``bicubic_ssim`` on that set); ``training`` says where the run stood (``iteration`` reached,
    ``iters`` planned, ``stopped_by``: the signal that stopped it early, or None); ``srkit info``
    shows both.

    ``extras`` are further modules (or state dicts) stored under ``<prefix>.`` keys, e.g. DRN's
    dual models; :func:`load_model` ignores them, :func:`read_extras` returns them.
    """
    arch, kwargs = describe(model)
    tensors = dict(unwrap(model).state_dict())
    for prefix, extra in (extras or {}).items():
        state = unwrap(extra).state_dict() if isinstance(extra, nn.Module) else extra
        tensors.update({f"{prefix}.{k}": v for k, v in state.items()})
    metadata = encode_metadata(kind=kind, arch=arch, kwargs=kwargs,
                               scale=getattr(unwrap(model), "scale", kwargs.get("scale", "")),
                               extras=list(extras or {}), config=config, validation=validation,
                               training=training)
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
    require_weights_file(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}  # noqa: SIM118
            dtypes = {key: f.get_slice(key).get_dtype() for key in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise _not_safetensors(path, exc) from None
    _check_floating(path, dtypes)
    if not is_srkit_metadata(metadata):
        raise SrkitError(f"{path}: safetensors file without srkit metadata; convert it with 'srkit convert'")
    check_scales_agree(path, metadata)
    return metadata, shapes


#: names of the tensors every network holds in floating point (integer buffers such as
#: BatchNorm's ``num_batches_tracked`` or SwinIR's ``relative_position_index`` are other names)
_FLOATING_NAMES = ("weight", "bias")


def _check_floating(path: Path, dtypes: Mapping[str, str]) -> None:
    """Refuse weights and biases stored as integers or bools (a cast file): they would give black
    or white images. Loading into a module checks every tensor against the module's own dtype."""
    for key, dtype in dtypes.items():
        if key.rsplit(".", 1)[-1] in _FLOATING_NAMES and not dtype.startswith(("F", "BF")):
            raise SrkitError(f"{path}: tensor {key!r} is stored as {dtype}, not as floating point; "
                             "these are not trained weights")


def _not_safetensors(path: Path, exc: BaseException) -> SrkitError:
    return SrkitError(f"{path}: not a safetensors file ({exc}); convert foreign checkpoints with "
                      "'srkit convert'")


def check_finite_tensors(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor]) -> None:
    """Refuse weights holding NaN or infinity: they upscale every image to black."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise SrkitError(f"{path}: tensor {name!r} holds NaN or infinite values; these weights "
                             "cannot produce an image")


def weights_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The decoded metadata of a weights file: arch, kwargs, scale, config, extras."""
    _, metadata = read_weights(path)
    return decode_metadata(metadata, str(path))


_Stored = TypeVar("_Stored")


def split_extras(tensors: dict[str, _Stored], prefixes: list[str]) -> tuple[
    dict[str, _Stored], dict[str, dict[str, _Stored]]
]:
    """Separate the generator's tensors (or their shapes) from those of each extra module prefix."""
    extras: dict[str, dict[str, _Stored]] = {p: {} for p in prefixes}
    main: dict[str, _Stored] = {}
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
    """Rebuild the generator or discriminator stored in an srkit weights file, in eval mode.

    The file is read, checked and loaded into the network on the CPU on one thread (a few hundred
    small tensors: on a busy machine, two threads made loading several times slower).
    """
    with one_cpu_thread():
        tensors, metadata = read_weights(path)
        info = _expected_info(metadata, path, scale, kind)
        state, _ = split_extras(tensors, info["extras"])
        model = build_checked(_builder(kind), lookup(kind, info["arch"]), info["arch"], info["kwargs"],
                              state, str(path))
        load_strict(model, state, f"{path}: weights do not match architecture {info['arch']!r}")
    model.srkit_weights_info = info  # type: ignore[assignment]  # nn.Module allows any attribute
    return model.to(device).eval()


def check_module_file(path: str | os.PathLike[str], *, scale: int | None = None,
                      kind: str = "generator") -> nn.Module:
    """Refuse a weights file :func:`load_module` would refuse, without building its network for
    real: returns its skeleton (on the meta device where the constructor allows), so a plan
    of many files is checked in little memory.

    The tensors are read one at a time (to prove they load and are finite) and not kept.
    """
    metadata, shapes = read_header(path)
    check_stored_tensors(path)
    info = _expected_info(metadata, path, scale, kind)
    state, _ = split_extras(shapes, info["extras"])
    return check_skeleton(_builder(kind), lookup(kind, info["arch"]), info["arch"], info["kwargs"],
                          state, str(path))


def check_stored_tensors(path: str | os.PathLike[str]) -> None:
    """What :func:`read_weights` proves of the tensors (readable, finite), one tensor in memory at a time."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - a safe_open handle is not a mapping
                check_finite_tensors(path, {key: f.get_tensor(key)})
    except (SafetensorError, OSError, ValueError) as exc:
        raise _not_safetensors(Path(path), exc) from None


def _expected_info(metadata: dict[str, str], path: str | os.PathLike[str], scale: int | None,
                   kind: str) -> dict[str, Any]:
    """The decoded metadata, once it is found to hold a ``kind`` for ``scale`` (when given)."""
    info = decode_metadata(metadata, str(path))
    if info["kind"] != kind:
        raise SrkitError(f"{path}: holds a {info['kind']} ({info['arch']}), not a {kind}")
    if scale is not None and info["scale"] is not None and info["scale"] != scale:
        raise SrkitError(f"{path}: weights are for x{info['scale']}, not x{scale}")
    return info


def _builder(kind: str) -> Callable[..., nn.Module]:
    return build_generator if kind == "generator" else build_discriminator


def read_extras(path: str | os.PathLike[str]) -> dict[str, dict[str, torch.Tensor]]:
    """The extra modules' state dicts stored beside the network (e.g. ``{"dual": {...}}``)."""
    tensors, metadata = read_weights(path)
    return split_extras(tensors, decode_metadata(metadata, str(path))["extras"])[1]
