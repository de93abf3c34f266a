"""srkit: a plugin-based single-image super-resolution toolkit.

Images are float tensors (N, 3, H, W), RGB, in [0, 1]. Start with :func:`load_model` and
:func:`upscale`; plugins extend srkit through :mod:`srkit.api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from srkit.version import PLUGIN_API_VERSION, __version__

if TYPE_CHECKING:
    import os

    import torch
    from torch import nn

__all__ = ["PLUGIN_API_VERSION", "__version__", "build_generator", "load_model", "save_weights", "upscale"]

# These import torch when called, not when srkit is imported, so `srkit --help` stays fast.


def build_generator(arch: str, **kwargs: Any) -> nn.Module:
    """The registered generator ``arch`` built with ``kwargs`` (:func:`srkit.nn.models.build_generator`)."""
    from srkit.nn.models import build_generator as build

    return build(arch, **kwargs)


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu", *,
               scale: int | None = None) -> nn.Module:
    """The generator stored in an srkit weights file (see :func:`srkit.weights.files.load_model`)."""
    from srkit.weights.files import load_model as load

    return load(path, device, scale=scale)


def save_weights(model: nn.Module, path: str | os.PathLike[str], **options: Any) -> None:
    """Save a built network, self-describing (see :func:`srkit.weights.files.save_weights`)."""
    from srkit.weights.files import save_weights as save

    save(model, path, **options)


def upscale(model: Any, image: Any, **options: Any) -> Any:
    """Super-resolve an image with a generator or a weights file (see :func:`srkit.inference.upscale`)."""
    from srkit.inference import upscale as run

    return run(model, image, **options)
