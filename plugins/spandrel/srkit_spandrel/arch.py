"""A spandrel network as an srkit generator, rebuilt from JSON constructor arguments.

spandrel builds a network from the shapes of a state dict; srkit weights rebuild a network from
``arch`` + ``kwargs``. :class:`SpandrelGenerator` bridges the two: the kwargs name the spandrel
class (only classes inside ``spandrel.architectures`` are imported) and its hyperparameters, so a
fine-tuned model saved as srkit safetensors loads again without spandrel's detection.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F

from srkit.api import SrkitError

INSTALL_HINT = "pip install 'srkit[spandrel]'"
_ARCHITECTURES = "spandrel.architectures."


def import_spandrel() -> Any:
    """The spandrel module, or a one-line error saying how to install it."""
    try:
        import spandrel
    except ImportError:
        raise SrkitError(f"models read by spandrel need the spandrel package: {INSTALL_HINT}") from None
    return spandrel


@contextmanager
def quiet_construction() -> Iterator[None]:
    """Hide the deprecation notes some spandrel architectures trigger in torch while being built."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.meshgrid", category=UserWarning)
        yield


def network_class(module: str, name: str) -> type[nn.Module]:
    """The spandrel network class ``module.name``; anything outside spandrel's architectures is refused."""
    import_spandrel()
    if not module.startswith(_ARCHITECTURES):
        raise SrkitError(f"spandrel generator: {module!r} is not a spandrel architecture module")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise SrkitError(f"spandrel generator: {module}.{name} is not in the installed spandrel") from None
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise SrkitError(f"spandrel generator: {module}.{name} is not a network class")
    return found


class SpandrelGenerator(nn.Module):
    """RGB (N,3,h,w) in [0,1] -> (N,3,h*scale,w*scale): a spandrel network, padded to its size needs.

    ``net`` holds the spandrel module itself, so its state dict is the layout spandrel (and
    chaiNNer) read, under ``net.``.
    """

    def __init__(self, architecture: str, module: str, cls: str, scale: int,
                 hyperparameters: dict[str, Any], multiple_of: int = 1, minimum: int = 0) -> None:
        super().__init__()
        self.architecture, self.scale = architecture, scale
        self.multiple_of, self.minimum = max(1, multiple_of), minimum
        with quiet_construction():
            self.net = network_class(module, cls)(**hyperparameters)

    def forward(self, lr: Tensor) -> Tensor:
        height, width = lr.shape[-2:]
        pad_h = _padding(height, self.minimum, self.multiple_of)
        pad_w = _padding(width, self.minimum, self.multiple_of)
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            lr = F.pad(lr, (0, pad_w, 0, pad_h), mode=mode)
        sr = self.net(lr)
        if pad_h or pad_w:
            sr = sr[..., : height * self.scale, : width * self.scale]
        return sr


def _padding(size: int, minimum: int, multiple_of: int) -> int:
    target = max(size, minimum)
    return -(-target // multiple_of) * multiple_of - size
