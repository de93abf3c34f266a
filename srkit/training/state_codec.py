"""Nested state (optimizer/scheduler state dicts) <-> flat tensors + a JSON skeleton.

Checkpoints never unpickle: tensors go to safetensors under generated keys, everything else
(ints, floats, strings, tuples, dicts with int keys) to JSON with small type tags.
``torch.load(weights_only=True)`` of a pickled state would be shorter, but its restricted
unpickler has been escaped before (CVE-2025-32434, torch < 2.6, which srkit still supports);
JSON and safetensors cannot run code whatever a file holds.
"""

from __future__ import annotations

from typing import Any

import torch

_TENSOR, _TUPLE, _PAIRS = "__tensor__", "__tuple__", "__pairs__"


def encode(value: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able skeleton of ``value``; its tensors are added to ``tensors`` under ``prefix.*``."""
    if isinstance(value, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = value.detach().cpu().clone()
        return {_TENSOR: key}
    if isinstance(value, tuple):
        return {_TUPLE: [encode(v, prefix, tensors) for v in value]}
    if isinstance(value, list):
        return [encode(v, prefix, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v, prefix, tensors) for k, v in value.items()}
        return {_PAIRS: [[k, encode(v, prefix, tensors)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def decode(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(skeleton, list):
        return [decode(v, tensors) for v in skeleton]
    if isinstance(skeleton, dict):
        if _TENSOR in skeleton:
            return tensors[skeleton[_TENSOR]]
        if _TUPLE in skeleton:
            return tuple(decode(v, tensors) for v in skeleton[_TUPLE])
        if _PAIRS in skeleton:
            return {_restore_key(k): decode(v, tensors) for k, v in skeleton[_PAIRS]}
        return {k: decode(v, tensors) for k, v in skeleton.items()}
    return skeleton


def _restore_key(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key
