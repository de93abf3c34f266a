"""Reading foreign checkpoints (.pth/.pt/.safetensors of other repositories) as srkit weights.

The core does what every checkpoint needs (safe loading, un-nesting, stripping wrapper prefixes,
picking the converter whose layout the tensors have); the architecture-specific key mapping, its
recognition and its inverse (export) belong to a converter registered by the plugin that owns the
arch.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import Tensor

from srkit.errors import SrkitError, first_informative_line, require_weights_file
from srkit.interfaces import Converted, Converter, as_converter

NESTING_KEYS = ("params_ema", "params", "state_dict", "model", "generator", "net")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def check_layout(expected: Mapping[str, Tensor], found: Mapping[str, Tensor], what: str) -> None:
    """One-line error naming the first missing, unexpected or wrongly shaped key of a converted checkpoint."""
    missing = [k for k in expected if k not in found]
    if missing:
        raise SrkitError(f"{what}: missing key {missing[0]!r} ({len(missing)} missing)")
    unexpected = [k for k in found if k not in expected]
    if unexpected:
        raise SrkitError(f"{what}: unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected)")
    for key, tensor in expected.items():
        if tuple(found[key].shape) != tuple(tensor.shape):
            raise SrkitError(
                f"{what}: {key!r} has shape {tuple(found[key].shape)}, expected {tuple(tensor.shape)}"
            )


def load_foreign(path: str | os.PathLike[str]) -> Any:
    """Load a checkpoint without unpickling arbitrary objects (``weights_only=True``) or from safetensors."""
    path = Path(path)
    require_weights_file(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except SafetensorError as exc:
        raise SrkitError(f"{path}: not a readable safetensors file ({exc})") from None
    except (pickle.UnpicklingError, RuntimeError, OSError, ValueError, EOFError) as exc:
        raise SrkitError(f"{path}: cannot read checkpoint safely ({_reason(exc)}); srkit never runs "
                         "code stored in a checkpoint: save the weights as a plain state dict of "
                         "tensors (or as .safetensors) and convert that") from None
    except Exception as exc:  # the restricted unpickler trips on text files (IndexError, ...)
        raise SrkitError(f"{path}: not a checkpoint srkit can read ({type(exc).__name__}: "
                         f"{first_informative_line(exc, 120)})") from None


#: lines of torch.load's error that are advice, not the reason (one suggests weights_only=False)
_TORCH_ADVICE = ("weights only load failed", "please file an issue", "check the documentation",
                 "re-running `torch.load`", "weights_only")


def _reason(exc: BaseException) -> str:
    """The informative line of a torch.load error (e.g. ``unsupported GLOBAL posix.system ...``),
    without torch's advice to disable ``weights_only``."""
    for line in str(exc).splitlines():
        line = line.strip()
        if "WeightsUnpickler error:" in line:
            line = line.split("WeightsUnpickler error:", 1)[1].strip()
        if line and not any(advice in line.lower() for advice in _TORCH_ADVICE):
            return line.rstrip(".")
    return f"{type(exc).__name__}: content other than tensors and plain containers"


def extract_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, Tensor]:
    """Find the tensors in a loaded checkpoint: un-nest common wrappers and strip DDP/compile prefixes."""
    for _ in range(3):
        if isinstance(obj, Mapping) and not _is_state_dict(obj):
            inner = next((obj[k] for k in NESTING_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping) or not _is_state_dict(obj):
        raise SrkitError(f"{source}: no state dict of tensors found (looked under {', '.join(NESTING_KEYS)})")
    return {strip_prefixes(k): v for k, v in obj.items() if isinstance(v, Tensor)}


def load_foreign_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The tensors of a checkpoint file of another project, ready for a key mapping.

    Reads ``.safetensors`` or a torch file with ``weights_only=True`` (no pickled code runs),
    un-nests ``params_ema``/``params``/``state_dict``/``model``/``generator``/``net``, and strips
    ``module.``/``_orig_mod.`` prefixes (DataParallel, DDP, ``torch.compile``). Any problem is a
    one-line :class:`SrkitError` naming ``path``. Plugin commands reading foreign files use this.
    """
    return extract_state_dict(load_foreign(path), str(path))


def strip_prefixes(key: str) -> str:
    """``key`` without the ``module.``/``_orig_mod.`` prefixes wrappers add (any number, any order)."""
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def _is_state_dict(obj: Mapping) -> bool:
    has_tensor = any(isinstance(v, Tensor) for v in obj.values())
    return bool(obj) and all(isinstance(k, str) for k in obj) and has_tensor


def installed_converters() -> dict[str, Converter]:
    """Every registered converter by name."""
    from srkit.plugins import get_registry

    registry = get_registry()
    return {name: as_converter(registry.get("converter", name)) for name in registry.names("converter")}


def _detected(converter: Converter, state: Mapping[str, Tensor]) -> int | bool | None:
    if converter.detect is None:
        return None
    try:
        found = converter.detect(state)
    except Exception:  # a detector that trips over an unfamiliar layout simply does not match
        return None
    return found if found not in (False, 0) else None


def detect_layout(state: Mapping[str, Tensor]) -> dict[str, int | bool]:
    """Converters whose layout ``state`` has, with the scale each reads (``True``: not recorded).

    Fallback converters are asked only when no other converter matches.
    """
    converters = installed_converters()
    for fallback in (False, True):
        found = {name: result for name, c in converters.items() if c.fallback == fallback
                 and (result := _detected(c, state)) is not None}
        if found:
            return found
    return {}


def _key_pattern(key: str) -> str:
    return re.sub(r"\d+", "#", key)


def closest_layouts(state: Mapping[str, Tensor], limit: int = 3) -> list[tuple[str, float]]:
    """Converters ranked by the share of key names (indices ignored) they have in common with ``state``."""
    found = {_key_pattern(k) for k in state}
    scores = []
    for name, converter in installed_converters().items():
        if converter.layout_keys is None:
            continue
        try:
            known = {_key_pattern(k) for k in converter.layout_keys()}
        except Exception:
            continue
        if known:
            scores.append((name, len(found & known) / len(found | known)))
    scores.sort(key=lambda item: -item[1])
    return [item for item in scores[:limit] if item[1] > 0]


def _no_match_error(source: str, state: Mapping[str, Tensor]) -> SrkitError:
    notes = {name: c.missing() for name, c in installed_converters().items() if c.missing is not None}
    usable = [name for name in installed_converters() if not notes.get(name)]
    close = closest_layouts(state)
    nearest = ", ".join(f"{name} ({share:.0%} of key names shared)" for name, share in close)
    hint = f"closest known layouts: {nearest}" if nearest else \
        f"installed converters: {', '.join(usable) or 'none'}"
    hint += "".join(f"; {note}" for note in notes.values() if note)
    first = next(iter(state), "?")
    return SrkitError(f"{source}: no installed converter recognises this layout ({len(state)} tensors, "
                      f"first key {first!r}); {hint}; or pass --arch NAME")


def choose_converter(state: Mapping[str, Tensor], *, arch: str | None, scale: int | None,
                     source: str = "checkpoint") -> tuple[str, int | None]:
    """``(converter name, scale)`` for ``state``: ``arch``/``scale`` when given (checked against what
    the converter reads), else the one converter that recognises the layout."""
    converters = installed_converters()
    if arch is not None:
        if arch not in converters:
            known = ", ".join(converters) or "none"
            raise SrkitError(f"no converter for architecture {arch!r}; converters installed: {known}")
        found = _detected(converters[arch], state)
        candidates = {arch: found} if found is not None else {}
    else:
        candidates = detect_layout(state)
        if not candidates:
            raise _no_match_error(source, state)
        if len(candidates) > 1:
            names = ", ".join(sorted(candidates))
            raise SrkitError(f"{source}: the layout matches several converters ({names}); "
                             "choose one with --arch")
        arch = next(iter(candidates))
    read = candidates.get(arch)
    read_scale = read if isinstance(read, int) and not isinstance(read, bool) else None
    if scale is not None and read_scale is not None and read_scale != scale:
        raise SrkitError(f"{source}: the {arch} weights upscale x{read_scale}, not --scale {scale}")
    return arch, scale if scale is not None else read_scale


def convert_state_dict(state: dict[str, Tensor], *, arch: str | None = None, scale: int | None = None,
                       extra: dict[str, Any] | None = None, source: str = "checkpoint") -> Converted:
    """Convert foreign tensors with the converter named ``arch``, or the one that recognises them."""
    name, scale = choose_converter(state, arch=arch, scale=scale, source=source)
    converter = installed_converters()[name]
    extra = extra or {}
    declared = {i.name for i in converter.inputs}
    unused = sorted(set(extra) - declared)
    if unused:
        raise SrkitError(f"--{unused[0]} is not read by the {name} converter"
                         + (f" (it reads --{', --'.join(sorted(declared))})" if declared else ""))
    converted = converter(state, scale=scale, extra=extra)
    converted.converter = name
    return converted


def save_converted(converted: Converted, path: str | os.PathLike[str], *, source: str = "") -> None:
    """Build the module a converter describes, load its tensors strictly, and save it self-describing."""
    from srkit.nn.models import build_discriminator, build_generator
    from srkit.weights.check import load_strict
    from srkit.weights.files import save_weights

    build = build_generator if converted.kind == "generator" else build_discriminator
    module = build(converted.arch, **converted.kwargs)
    load_strict(module, converted.state_dict, f"{source}: converted weights do not fit {converted.arch!r}")
    save_weights(module, path, extras=converted.extras, kind=converted.kind)


def convert_checkpoint(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, arch: str | None = None,
                       scale: int | None = None,
                       extra_files: Mapping[str, str | os.PathLike[str]] | None = None) -> Converted:
    """Convert ``src`` (with the converter ``arch``, or the detected one) and write srkit safetensors."""
    from srkit.writable import check_output_file

    extra_files = dict(extra_files or {})
    check_output_file(dst, "DST", inputs=[src, *extra_files.values()], suffixes=(".safetensors",))
    state = load_foreign_state_dict(src)
    extra = {name: load_foreign(path) for name, path in extra_files.items()}
    converted = convert_state_dict(state, arch=arch, scale=scale, extra=extra, source=str(src))
    try:
        save_converted(converted, dst, source=str(src))
    except OSError as exc:
        raise SrkitError(f"{dst}: cannot write ({exc.strerror or exc}); a previous file of that "
                         "name is left as it was") from None
    return converted
