"""Converters for the checkpoints published by Lornatang/SRGAN-PyTorch.

``srresnet`` reads its generator (``SRResNet_x4-ImageNet.pth.tar`` and the GAN-trained
``SRGAN_x4-ImageNet.pth.tar``), ``srgan-d`` its discriminator. The core has already un-nested
``state_dict`` and stripped ``_orig_mod.``; checkpoints older than late 2022 name ``conv1/2/3``
``conv_block1/2/3``, which is handled here. Every reference key maps to exactly one srkit key,
and :func:`export_srresnet` maps them back (``srkit export --format official``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from srkit.api import Converted, Converter, SrkitError, check_layout
from srkit_srgan.arch import SRGANDiscriminator, SRResNet

Rule = Callable[[str], "str | None"]


#: what each ``{field}`` of a key template stands for (one regex group per field)
_FIELDS = {
    "n": r"(\d+)",
    "wb": r"(weight|bias)",
    "bn": r"(weight|bias|running_mean|running_var|num_batches_tracked)",
}


def _template_rule(source: str, target: str) -> Rule:
    """A rule renaming keys that match template ``source`` to ``target`` (the same fields in the
    same order), e.g. ``trunk.{n}.rcb.0.weight`` -> ``blocks.{n}.conv1.weight``."""
    pattern = re.compile("".join(_FIELDS[part[1:-1]] if part.startswith("{") else re.escape(part)
                                 for part in re.split(r"(\{\w+\})", source)))
    replacement, group = "", 0
    for part in re.split(r"(\{\w+\})", target):
        if part.startswith("{"):
            group += 1
            part = rf"\g<{group}>"
        replacement += part

    def rule(key: str) -> str | None:
        return pattern.sub(replacement, key) if pattern.fullmatch(key) else None

    return rule


#: Lornatang SRResNet key template -> srkit key template; both directions are made from it.
SRRESNET_NAMES: list[tuple[str, str]] = [
    ("conv1.0.{wb}", "head.conv.{wb}"),
    ("conv1.1.weight", "head.act.weight"),
    ("trunk.{n}.rcb.0.weight", "blocks.{n}.conv1.weight"),
    ("trunk.{n}.rcb.1.{bn}", "blocks.{n}.bn1.{bn}"),
    ("trunk.{n}.rcb.2.weight", "blocks.{n}.act.weight"),
    ("trunk.{n}.rcb.3.weight", "blocks.{n}.conv2.weight"),
    ("trunk.{n}.rcb.4.{bn}", "blocks.{n}.bn2.{bn}"),
    ("conv2.0.weight", "body_end.conv.weight"),
    ("conv2.1.{bn}", "body_end.bn.{bn}"),
    ("upsampling.{n}.upsample_block.0.{wb}", "upsample.{n}.conv.{wb}"),
    ("upsampling.{n}.upsample_block.2.weight", "upsample.{n}.act.weight"),
    ("conv3.{wb}", "tail.{wb}"),
]
#: Lornatang key -> srkit key
SRRESNET_RULES: list[Rule] = [_template_rule(theirs, ours) for theirs, ours in SRRESNET_NAMES]
#: srkit SRResNet key -> Lornatang key: the inverse of :data:`SRRESNET_RULES`.
SRRESNET_EXPORT_RULES: list[Rule] = [_template_rule(ours, theirs) for theirs, ours in SRRESNET_NAMES]


def _discriminator_feature(key: str) -> str | None:
    """``features.N.*`` -> ``blocks.K.conv/bn.*``: conv K>0 sits at N = 3K - 1, its BN at 3K."""
    match = re.fullmatch(r"features\.(\d+)\.(\w+)", key)
    if match is None:
        return None
    index, field = int(match.group(1)), match.group(2)
    if index == 0 and field in ("weight", "bias"):
        return f"blocks.0.conv.{field}"
    if index >= 2 and (index + 1) % 3 == 0 and field == "weight":
        return f"blocks.{(index + 1) // 3}.conv.weight"
    if index >= 3 and index % 3 == 0:
        return f"blocks.{index // 3}.bn.{field}"
    return None


DISCRIMINATOR_RULES: list[Rule] = [
    _discriminator_feature,
    _template_rule("classifier.0.{wb}", "fc1.{wb}"),
    _template_rule("classifier.2.{wb}", "fc2.{wb}"),
]

_OLD_NAMES = re.compile(r"^conv_block([123])\.")


def rename_keys(state_dict: Mapping[str, Tensor], rules: list[Rule], what: str,
                source: str = "a Lornatang") -> dict[str, Tensor]:
    """Apply ``rules`` to every key; a key no rule maps, or two keys mapping to one, is an error."""
    renamed: dict[str, Tensor] = {}
    for key, tensor in state_dict.items():
        targets = [t for t in (rule(key) for rule in rules) if t is not None]
        if len(targets) != 1:
            raise SrkitError(f"not {source} {what} checkpoint: unexpected key {key!r}")
        if targets[0] in renamed:
            raise SrkitError(f"not {source} {what} checkpoint: {key!r} duplicates {targets[0]!r}")
        renamed[targets[0]] = tensor
    return renamed


def _count_indices(state_dict: Iterable[str], prefix: str) -> int:
    """How many ``prefix.N.`` indices the key names use (the highest plus one)."""
    indices = {int(m.group(1)) for k in state_dict if (m := re.match(rf"{prefix}\.(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def srresnet_from_lornatang(state_dict: dict[str, Tensor]) -> tuple[dict, dict[str, Tensor]]:
    """(SRResNet kwargs, srkit state dict) from a Lornatang generator state dict."""
    state_dict = {_OLD_NAMES.sub(r"conv\1.", k): v for k, v in state_dict.items()}
    if "conv1.0.weight" not in state_dict:
        raise SrkitError("not a Lornatang SRResNet checkpoint: no 'conv1.0.weight' (first conv)")
    stages = _count_indices(state_dict, "upsampling")
    kwargs = {"scale": 2**stages, "channels": int(state_dict["conv1.0.weight"].shape[0]),
              "blocks": _count_indices(state_dict, "trunk")}
    renamed = rename_keys(state_dict, SRRESNET_RULES, "SRResNet")
    check_layout(SRResNet(**kwargs).state_dict(), renamed, "not a Lornatang SRResNet checkpoint")
    return kwargs, renamed


def discriminator_from_lornatang(state_dict: dict[str, Tensor]) -> tuple[dict, dict[str, Tensor]]:
    """(SRGANDiscriminator kwargs, srkit state dict) from a Lornatang discriminator state dict."""
    if "features.0.weight" not in state_dict or "classifier.0.weight" not in state_dict:
        raise SrkitError("not a Lornatang SRGAN discriminator checkpoint: "
                         "no 'features.0.weight' / 'classifier.0.weight'")
    channels = int(state_dict["features.0.weight"].shape[0])
    dense_inputs = int(state_dict["classifier.0.weight"].shape[1])
    side = math.isqrt(dense_inputs // (8 * channels))
    if side < 1 or 8 * channels * side * side != dense_inputs:
        raise SrkitError(f"SRGAN discriminator: dense layer reads {dense_inputs} features, "
                         f"not 8*{channels}*(crop/16)^2 for any crop")
    kwargs = {"crop_size": 16 * side, "channels": channels}
    renamed = rename_keys(state_dict, DISCRIMINATOR_RULES, "SRGAN discriminator")
    check_layout(SRGANDiscriminator(**kwargs).state_dict(), renamed,
                 "not a Lornatang SRGAN discriminator checkpoint")
    return kwargs, renamed


def convert_srresnet(state_dict: dict[str, Tensor], *, scale: int | None, extra: dict) -> Converted:
    """``srkit convert SRResNet_x4-ImageNet.pth.tar out.safetensors`` (``--arch srresnet --scale 4``)."""
    kwargs, renamed = srresnet_from_lornatang(state_dict)
    if scale is not None and kwargs["scale"] != scale:
        raise SrkitError(f"this SRResNet checkpoint upscales x{kwargs['scale']}, not x{scale}")
    return Converted("srresnet", kwargs, renamed)


def convert_srgan_discriminator(state_dict: dict[str, Tensor], *, scale: int | None,
                                extra: dict) -> Converted:
    """``srkit convert D.pth.tar d.safetensors`` (``--arch srgan-d``; the scale is not used)."""
    kwargs, renamed = discriminator_from_lornatang(state_dict)
    return Converted("srgan-d", kwargs, renamed, kind="discriminator")


def detect_srresnet(state_dict: Mapping[str, Tensor]) -> int | None:
    """The scale of a Lornatang SRResNet/SRGAN generator (``conv1.0``, ``trunk.N.rcb``), else None."""
    keys = {_OLD_NAMES.sub(r"conv\1.", k) for k in state_dict}
    if "conv1.0.weight" not in keys or "conv3.weight" not in keys \
            or not any(k.startswith("trunk.") for k in keys):
        return None
    stages = _count_indices(keys, "upsampling")
    return 2**stages if stages else None


def detect_srgan_discriminator(state_dict: Mapping[str, Tensor]) -> bool:
    """A Lornatang SRGAN discriminator: ``features.N`` convolutions and a two-layer ``classifier``."""
    return {"features.0.weight", "classifier.0.weight", "classifier.2.weight"} <= set(state_dict)


def export_srresnet(state_dict: dict[str, Tensor], kwargs: dict[str, Any],
                    extras: dict[str, dict[str, Tensor]]) -> dict[str, Any]:
    """srkit SRResNet tensors in Lornatang's layout, nested under ``state_dict`` as its releases are."""
    with torch.device("meta"):  # the network's own key order, which is the release's
        order = {key: i for i, key in enumerate(SRResNet(**kwargs).state_dict())}
    ordered = dict(sorted(state_dict.items(), key=lambda item: order.get(item[0], len(order))))
    renamed = rename_keys(ordered, SRRESNET_EXPORT_RULES, "SRResNet", source="an srkit")
    return {"": {"state_dict": renamed}}


def srresnet_layout_keys() -> list[str]:
    """Key names of a x4 Lornatang SRResNet checkpoint."""
    with torch.device("meta"):
        state = SRResNet(scale=4).state_dict()
    return list(rename_keys(state, SRRESNET_EXPORT_RULES, "SRResNet", source="an srkit"))


def discriminator_layout_keys() -> list[str]:
    """Key names of a Lornatang SRGAN discriminator checkpoint (eight conv blocks)."""
    keys = ["features.0.weight", "features.0.bias"]
    for k in range(1, 8):
        keys.append(f"features.{3 * k - 1}.weight")
        keys += [f"features.{3 * k}.{f}" for f in ("weight", "bias", "running_mean", "running_var")]
    return keys + ["classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias"]


SRRESNET_CONVERTER = Converter(convert=convert_srresnet, detect=detect_srresnet, export=export_srresnet,
                               layout_keys=srresnet_layout_keys,
                               description=("SRResNet generator of Lornatang/SRGAN-PyTorch "
                                            "(SRResNet_x4-ImageNet.pth.tar, SRGAN_x4-ImageNet.pth.tar)"))
DISCRIMINATOR_CONVERTER = Converter(convert=convert_srgan_discriminator,
                                    detect=detect_srgan_discriminator,
                                    layout_keys=discriminator_layout_keys,
                                    description=("SRGAN discriminator of Lornatang/SRGAN-PyTorch (the D "
                                                 "checkpoint of its GAN training)"))
