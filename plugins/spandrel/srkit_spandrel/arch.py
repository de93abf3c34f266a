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

from srkit.api import GeneratorFacts, SizeRequirements, SrkitError

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
    """RGB (N,3,h,w) in [0,1] -> (N,3,h*scale,w*scale): a spandrel network and the facts spandrel
    knows about it (size requirements, half-precision safety), as :class:`GeneratorFacts`.

    ``net`` holds the spandrel module itself, so its state dict is the layout spandrel (and
    chaiNNer) read, under ``net.``. Callers pad inputs to ``facts.size``; the module does not.
    """

    def __init__(self, architecture: str, module: str, cls: str, scale: int,
                 hyperparameters: dict[str, Any], multiple_of: int = 1, minimum: int = 0,
                 fp16_safe: bool = True, bf16_safe: bool = True) -> None:
        super().__init__()
        self.architecture, self.scale = architecture, scale
        self.facts = GeneratorFacts(SizeRequirements(minimum=max(0, minimum),
                                                     multiple_of=max(1, multiple_of)),
                                    fp16_safe=fp16_safe, bf16_safe=bf16_safe)
        with quiet_construction():
            self.net = network_class(module, cls)(**hyperparameters)

    def forward(self, lr: Tensor) -> Tensor:
        return self.net(lr)
