"""Reading any checkpoint spandrel recognises into an srkit ``spandrel`` generator.

The file itself is read by srkit (``torch.load(weights_only=True)`` or safetensors, never a
plain unpickle); spandrel only sees the tensors. The converter is a fallback: it is asked only
when no srkit converter recognises the layout, so srkit's faithful SRResNet and DRN win.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from srkit.api import Converted, Converter, SrkitError
from srkit_spandrel.arch import INSTALL_HINT, import_spandrel, quiet_construction


def detect_spandrel(state_dict: Mapping[str, Tensor]) -> bool | None:
    """True when one of spandrel's architectures recognises the tensors (its scale is read on loading)."""
    try:
        spandrel = import_spandrel()
    except SrkitError:
        return None
    state = dict(state_dict)
    for support in spandrel.MAIN_REGISTRY.architectures("detection"):
        if support.detect(state):
            return True
    return None


def missing_spandrel() -> str | None:
    """Why this converter cannot read anything here, or None."""
    try:
        import_spandrel()
    except SrkitError:
        return f"{INSTALL_HINT} reads about 40 more architectures"
    return None


def json_hyperparameters(network: Any) -> dict[str, Any]:
    """The network's constructor arguments as JSON; a non-JSON value is dropped when it is the default."""
    defaults = {name: p.default for name, p in inspect.signature(type(network).__init__).parameters.items()}
    kept = {}
    for name, value in getattr(network, "hyperparameters", {}).items():
        try:
            kept[name] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            if defaults.get(name, inspect.Parameter.empty) is not value:
                raise SrkitError(f"spandrel {type(network).__name__}: argument {name}={value!r} cannot "
                                 "be stored in srkit weights") from None
    return kept


def convert_spandrel(state_dict: dict[str, Tensor], *, scale: int | None, extra: dict) -> Converted:
    """The network spandrel builds from ``state_dict``, as kwargs of the ``spandrel`` generator."""
    spandrel = import_spandrel()
    try:
        with quiet_construction():
            descriptor = spandrel.MAIN_REGISTRY.load(dict(state_dict))
    except spandrel.UnsupportedModelError:
        raise SrkitError("spandrel does not recognise this layout either") from None
    except Exception as exc:  # a recognised layout with inconsistent shapes
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrkitError(f"spandrel recognised the layout but could not build it: {reason}") from None
    name = descriptor.architecture.id
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise SrkitError(f"spandrel reads a {name} model, which does not map an image to an image")
    if (descriptor.input_channels, descriptor.output_channels) != (3, 3):
        raise SrkitError(f"spandrel {name} model maps {descriptor.input_channels} to "
                         f"{descriptor.output_channels} channels; srkit generators are RGB to RGB")
    if scale is not None and descriptor.scale != scale:
        raise SrkitError(f"the spandrel {name} model upscales x{descriptor.scale}, not x{scale}")
    network = descriptor.model
    needs = descriptor.size_requirements
    kwargs = {"architecture": str(name), "module": type(network).__module__,
              "cls": type(network).__qualname__, "scale": int(descriptor.scale),
              "hyperparameters": json_hyperparameters(network),
              "multiple_of": int(needs.multiple_of), "minimum": int(needs.minimum)}
    tensors = {f"net.{key}": value for key, value in network.state_dict().items()}
    return Converted("spandrel", kwargs, tensors)


def export_spandrel(state_dict: dict[str, Tensor], kwargs: dict[str, Any],
                    extras: dict[str, dict[str, Tensor]]) -> dict[str, Any]:
    """The network's own state dict (the layout spandrel and chaiNNer read)."""
    return {"": {key.removeprefix("net."): value for key, value in state_dict.items()}}


SPANDREL_CONVERTER = Converter(convert=convert_spandrel, detect=detect_spandrel, export=export_spandrel,
                               fallback=True, missing=missing_spandrel,
                               description=("any architecture spandrel recognises (ESRGAN, SwinIR, HAT, "
                                            "...), asked last"))
