"""Torchvision ImageNet weights read from a file or the torch hub cache, never downloaded.

The VGG19 perceptual loss and the LPIPS backbones both need torchvision's ``features`` weights.
Both read them here, so "where is the file", "cannot read it" and "it is not that network" are
said the same way, in one line naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from srkit.errors import SrkitError
from srkit.weights.convert import load_foreign_state_dict


def hub_cache_path(file_name: str) -> Path:
    """Where torchvision keeps ``file_name``: ``$TORCH_HOME/hub/checkpoints/<file_name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def read_pretrained_state(path: str | os.PathLike[str], display: str, *,
                          missing: SrkitError) -> dict[str, Tensor]:
    """The state dict in ``path``, read as :func:`srkit.weights.convert.load_foreign_state_dict` does.

    Raises ``missing`` when the file does not exist, and a one-line :class:`SrkitError` naming
    ``display`` (e.g. "VGG19") when it cannot be read or holds no state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise missing
    try:
        return load_foreign_state_dict(path)
    except SrkitError as exc:
        detail = str(exc).removeprefix(f"{path}: ")
        raise SrkitError(f"{path}: cannot read {display} weights ({detail})") from None


def load_features(module: nn.Module, state: dict[str, Tensor], path: str | os.PathLike[str],
                  display: str, source_key: Callable[[str], str]) -> None:
    """Copy ``state[source_key(key)]`` into each of ``module``'s tensors, checking shapes first.

    ``source_key`` maps the module's key to the torchvision key (e.g. ``2.weight`` ->
    ``features.2.weight``). A missing key or a wrong shape is a one-line error naming ``path``.
    """
    mapped = {}
    for key, tensor in module.state_dict().items():
        source = source_key(key)
        if source not in state:
            raise SrkitError(f"{path}: not a torchvision {display} state dict (no {source!r})")
        if tuple(state[source].shape) != tuple(tensor.shape):
            raise SrkitError(f"{path}: not a torchvision {display} state dict ({source} has shape "
                             f"{tuple(state[source].shape)}, expected {tuple(tensor.shape)})")
        mapped[key] = state[source].to(tensor.dtype)
    module.load_state_dict(mapped, strict=True)
