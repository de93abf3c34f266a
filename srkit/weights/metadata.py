"""The metadata format of srkit weights files: encoding, decoding and checking its entries.

Metadata keys (all strings): ``srkit.format`` ("1"), ``kind``, ``arch``, ``kwargs`` (JSON),
``scale``, ``srkit_version``, optionally ``config`` (JSON of the training config), ``extras``
(JSON list of prefixes of extra modules stored in the same file, e.g. ``["dual"]``) and
``validation`` (JSON: the run's validation PSNR/SSIM of these weights, and bicubic's on the
same set) and ``training`` (JSON: the iteration reached, the iterations planned, and the
signal that stopped the run early or null).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from srkit.errors import SrkitError
from srkit.version import __version__

FORMAT_VERSION = "1"


def encode_metadata(*, kind: str, arch: str, kwargs: dict[str, Any], scale: object,
                    extras: list[str], config: dict[str, Any] | None = None,
                    validation: dict[str, Any] | None = None,
                    training: dict[str, Any] | None = None) -> dict[str, str]:
    """The string metadata that lets :func:`decode_metadata` (and a loader) rebuild the module."""
    metadata = {
        "srkit.format": FORMAT_VERSION,
        "kind": kind,
        "arch": arch,
        "kwargs": json.dumps(kwargs, sort_keys=True),
        "scale": str(scale),
        "srkit_version": __version__,
        "extras": json.dumps(sorted(extras)),
    }
    if config is not None:
        metadata["config"] = json.dumps(config, sort_keys=True, default=str)
    if validation is not None:
        metadata["validation"] = json.dumps(validation, sort_keys=True)
    if training is not None:
        metadata["training"] = json.dumps(training, sort_keys=True)
    return metadata


def is_srkit_metadata(metadata: Mapping[str, str]) -> bool:
    """Whether a safetensors file's metadata is srkit's (and of a format this version reads)."""
    return metadata.get("srkit.format") == FORMAT_VERSION and "arch" in metadata


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
        "scale": _scale_entry(metadata, source),
        "srkit_version": metadata.get("srkit_version"),
        "config": config,
        "extras": extras,
        "validation": (_json_entry(metadata, "validation", None, dict, source)
                       if "validation" in metadata else None),
        "training": (_json_entry(metadata, "training", None, dict, source)
                     if "training" in metadata else None),
    }


def _scale_entry(metadata: dict[str, str], source: str) -> int | None:
    """The ``scale`` entry: a whole number, or empty/absent for a model that records none."""
    text = metadata.get("scale", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SrkitError(f"{source}: metadata 'scale' must be a whole number >= 1, got {text!r}")
    return int(text)


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
