"""Reading foreign checkpoints (.pth/.pt/.safetensors of other repositories) as srkit weights.

The core does what every checkpoint needs (safe loading, un-nesting, stripping wrapper prefixes);
the architecture-specific key mapping is a converter registered by the plugin that owns the arch.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import Tensor

from srkit.errors import SrkitError

NESTING_KEYS = ("params_ema", "params", "state_dict", "model", "generator", "net")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


@dataclass
class Converted:
    """What a converter returns: how to rebuild the module and its srkit state dict."""

    arch: str
    kwargs: dict[str, Any]
    state_dict: dict[str, Tensor]
    extras: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    kind: str = "generator"


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
    if not path.is_file():
        raise SrkitError(f"{path}: no such file")
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


def convert_checkpoint(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, arch: str,
                       scale: int, extra_files: Mapping[str, str | os.PathLike[str]] | None = None
                       ) -> Converted:
    """Convert ``src`` with the converter registered for ``arch`` and write srkit safetensors to ``dst``."""
    from srkit.plugins import get_registry
    from srkit.weights import save_converted

    registry = get_registry()
    if arch not in registry.names("converter"):
        known = ", ".join(registry.names("converter")) or "none"
        raise SrkitError(f"no converter for architecture {arch!r}; converters installed: {known}")
    converter = registry.get("converter", arch)
    state = load_foreign_state_dict(src)
    extra = {name: load_foreign(path) for name, path in (extra_files or {}).items()}
    converted = converter(state, scale=scale, extra=extra)
    save_converted(converted, dst, source=str(src))
    return converted
