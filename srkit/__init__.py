"""srkit: a plugin-based single-image super-resolution toolkit.

Images are float tensors (N, 3, H, W), RGB, in [0, 1]. Start with :func:`load_model` and
:func:`upscale`; plugins extend srkit through the hooks in :mod:`srkit.hookspecs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from srkit.version import PLUGIN_API_VERSION, __version__

if TYPE_CHECKING:
    from srkit.inference import upscale
    from srkit.nn.models import build_generator
    from srkit.weights import load_model, save_weights

__all__ = ["PLUGIN_API_VERSION", "__version__", "build_generator", "load_model", "save_weights", "upscale"]

# Heavy modules (torch) load on first use, so `import srkit` and `srkit --help` stay fast.
_LAZY = {
    "build_generator": "srkit.nn.models",
    "load_model": "srkit.weights",
    "save_weights": "srkit.weights",
    "upscale": "srkit.inference",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'srkit' has no attribute {name!r}")
