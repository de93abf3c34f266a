"""Converters for the ESRGAN / Real-ESRGAN release files (BasicSR 1.4.2 layout).

``rrdbnet`` reads ``RealESRGAN_x4plus.pth``, ``RealESRNet_x4plus.pth`` and
``RealESRGAN_x2plus.pth`` (the core has already taken the tensors out of ``params_ema`` or
``params``); ``unet-sn`` reads ``RealESRGAN_x4plus_netD.pth``. srkit's modules use the release's
key names, so conversion reads the sizes from the shapes and checks every key; export writes the
same keys back under ``params_ema`` (generator) or ``params`` (discriminator), as the releases do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from srkit.api import Converted, Converter, SrkitError, check_layout
from srkit_realesrgan.arch import UNSHUFFLE, RRDBNet, UNetDiscriminatorSN

#: input channels of ``conv_first`` -> scale (3 * unshuffle^2 channels after pixel-unshuffle)
_SCALE_BY_INPUT = {3 * factor**2: scale for scale, factor in UNSHUFFLE.items()}
_GENERATOR_MARKS = ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight",
                    "conv_up1.weight", "conv_up2.weight", "conv_hr.weight", "conv_last.weight")
_DISCRIMINATOR_MARKS = ("conv0.weight", "conv1.weight_orig", "conv8.weight_orig", "conv9.weight")


def _count_blocks(keys: Mapping[str, Any]) -> int:
    indices = {int(m.group(1)) for k in keys if (m := re.match(r"body\.(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def rrdbnet_kwargs(state_dict: Mapping[str, Tensor]) -> dict[str, int]:
    """RRDBNet arguments read from the tensor shapes of a release-layout state dict."""
    missing = [k for k in _GENERATOR_MARKS if k not in state_dict]
    if missing:
        raise SrkitError(f"not an RRDBNet (ESRGAN/Real-ESRGAN) checkpoint: no {missing[0]!r}")
    first = state_dict["conv_first.weight"]
    inputs = int(first.shape[1])
    if inputs not in _SCALE_BY_INPUT:
        raise SrkitError(f"RRDBNet: conv_first reads {inputs} channels; the releases read 3 (x4), "
                         "12 (x2) or 48 (x1)")
    return {"scale": _SCALE_BY_INPUT[inputs], "channels": int(first.shape[0]),
            "blocks": _count_blocks(state_dict),
            "growth": int(state_dict["body.0.rdb1.conv1.weight"].shape[0])}


def convert_rrdbnet(state_dict: dict[str, Tensor], *, scale: int | None, extra: dict) -> Converted:
    """``srkit convert RealESRGAN_x4plus.pth out.safetensors`` (layout and scale detected)."""
    kwargs = rrdbnet_kwargs(state_dict)
    if scale is not None and kwargs["scale"] != scale:
        raise SrkitError(f"this RRDBNet checkpoint upscales x{kwargs['scale']}, not x{scale}")
    with torch.device("meta"):
        expected = RRDBNet(**kwargs).state_dict()
    check_layout(expected, state_dict, "not an RRDBNet (ESRGAN/Real-ESRGAN) checkpoint")
    return Converted("rrdbnet", kwargs, dict(state_dict))


def detect_rrdbnet(state_dict: Mapping[str, Tensor]) -> int | None:
    """The scale of a release-layout RRDBNet (read from ``conv_first``'s inputs), else None."""
    if not all(k in state_dict for k in _GENERATOR_MARKS):
        return None
    return _SCALE_BY_INPUT.get(int(state_dict["conv_first.weight"].shape[1]))


def _in_order(state_dict: dict[str, Tensor], order: list[str]) -> dict[str, Tensor]:
    """``state_dict`` in the network's own key order (the release's), whatever order it was read in."""
    rank = {key: i for i, key in enumerate(order)}
    return dict(sorted(state_dict.items(), key=lambda item: rank.get(item[0], len(rank))))


def export_rrdbnet(state_dict: dict[str, Tensor], kwargs: dict[str, Any],
                   extras: dict[str, dict[str, Tensor]]) -> dict[str, Any]:
    """srkit RRDBNet tensors as a release file: the same keys, under ``params_ema``."""
    with torch.device("meta"):
        order = list(RRDBNet(**kwargs).state_dict())
    return {"": {"params_ema": _in_order(state_dict, order)}}


def rrdbnet_layout_keys() -> list[str]:
    with torch.device("meta"):
        return list(RRDBNet(scale=4, blocks=2).state_dict())


def unet_kwargs(state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
    """U-Net discriminator arguments from the shapes (skip connections are not recorded in the
    tensors; the releases use them)."""
    missing = [k for k in _DISCRIMINATOR_MARKS if k not in state_dict]
    if missing:
        raise SrkitError(f"not a Real-ESRGAN U-Net discriminator checkpoint: no {missing[0]!r}")
    return {"channels": int(state_dict["conv0.weight"].shape[0]), "skip": True}


def convert_unet_discriminator(state_dict: dict[str, Tensor], *, scale: int | None,
                               extra: dict) -> Converted:
    """``srkit convert RealESRGAN_x4plus_netD.pth d.safetensors`` (the scale is not used)."""
    kwargs = unet_kwargs(state_dict)
    expected = UNetDiscriminatorSN(**kwargs).state_dict()
    check_layout(expected, state_dict, "not a Real-ESRGAN U-Net discriminator checkpoint")
    return Converted("unet-sn", kwargs, dict(state_dict), kind="discriminator")


def detect_unet_discriminator(state_dict: Mapping[str, Tensor]) -> bool:
    """A Real-ESRGAN U-Net discriminator: ``conv0``, spectrally normalised ``conv1..8``, ``conv9``."""
    return all(k in state_dict for k in _DISCRIMINATOR_MARKS)


def export_unet_discriminator(state_dict: dict[str, Tensor], kwargs: dict[str, Any],
                              extras: dict[str, dict[str, Tensor]]) -> dict[str, Any]:
    """srkit U-Net discriminator tensors as the release file: the same keys, under ``params``."""
    order = list(UNetDiscriminatorSN(**kwargs).state_dict())
    return {"": {"params": _in_order(state_dict, order)}}


def unet_layout_keys() -> list[str]:
    return list(UNetDiscriminatorSN(channels=4).state_dict())


RRDBNET_CONVERTER = Converter(convert=convert_rrdbnet, detect=detect_rrdbnet, export=export_rrdbnet,
                              layout_keys=rrdbnet_layout_keys)
UNET_CONVERTER = Converter(convert=convert_unet_discriminator, detect=detect_unet_discriminator,
                           export=export_unet_discriminator, layout_keys=unet_layout_keys)
