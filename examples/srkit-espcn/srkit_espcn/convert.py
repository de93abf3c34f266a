"""Converting ESPCN checkpoints of plain PyTorch implementations to srkit weights.

Public implementations name the same three convolutions differently: ``first_part.0``,
``first_part.2``, ``last_part.0`` in one, ``feature_maps.0``, ``feature_maps.2``, ``sub_pixel.0``
in another. Both train on the luma channel, so their files become ``color="y"`` models; files
with 3 input channels become ``color="rgb"``. :func:`detect_espcn` lets ``srkit convert`` recognise
both layouts without ``--arch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from srkit.api import Converter, SrkitError
from torch import Tensor

# srkit layer -> the names other implementations give the same layer
_LAYERS = {
    "features.0": ("first_part.0", "feature_maps.0"),
    "features.2": ("first_part.2", "feature_maps.2"),
    "upsample.0": ("last_part.0", "sub_pixel.0"),
}
_KNOWN = {f"{name}.{p}" for layer, others in _LAYERS.items() for name in (layer, *others)
          for p in ("weight", "bias")}


def detect_espcn(state_dict: Mapping[str, Tensor]) -> int | None:
    """The scale of an ESPCN checkpoint in one of the known layouts, else None."""
    if not state_dict or not set(state_dict) <= _KNOWN:
        return None
    first = next((state_dict[k] for k in ("features.0.weight", "first_part.0.weight",
                                          "feature_maps.0.weight") if k in state_dict), None)
    last = next((state_dict[k] for k in ("upsample.0.weight", "last_part.0.weight",
                                         "sub_pixel.0.weight") if k in state_dict), None)
    if first is None or last is None:
        return None
    return round((last.shape[0] / first.shape[1]) ** 0.5)


def convert_espcn(state_dict: dict[str, Tensor], *, scale: int | None,
                  extra: dict[str, Any]) -> Any:
    """Foreign ESPCN state dict -> :class:`srkit.api.Converted` for the ``espcn`` generator."""
    from srkit.api import Converted

    unexpected = sorted(set(state_dict) - _KNOWN)
    if unexpected:
        raise SrkitError(f"not an ESPCN checkpoint: unexpected key {unexpected[0]}")
    ours = {}
    for layer, others in _LAYERS.items():
        for param in ("weight", "bias"):
            candidates = [f"{name}.{param}" for name in (layer, *others)]
            found = [key for key in candidates if key in state_dict]
            if not found:
                raise SrkitError(f"not an ESPCN checkpoint: missing {others[0]}.{param}")
            ours[f"{layer}.{param}"] = state_dict[found[0]]

    channels = ours["features.0.weight"].shape[1]
    if channels not in (1, 3):
        raise SrkitError(f"ESPCN checkpoint takes {channels} input channels; expected 1 or 3")
    stored_scale = round((ours["upsample.0.weight"].shape[0] / channels) ** 0.5)
    scale = stored_scale if scale is None else scale
    if stored_scale != scale:
        raise SrkitError(f"this ESPCN checkpoint upscales x{stored_scale}, not x{scale}")
    kwargs = {"scale": scale, "color": "rgb" if channels == 3 else "y",
              "features": [ours["features.0.weight"].shape[0], ours["features.2.weight"].shape[0]]}
    return Converted(arch="espcn", kwargs=kwargs, state_dict=ours)


#: What the plugin registers: the conversion, how to recognise the layout, and its key names.
ESPCN_CONVERTER = Converter(convert=convert_espcn, detect=detect_espcn,
                            layout_keys=lambda: sorted(_KNOWN))
