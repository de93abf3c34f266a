"""Reading the official DRN release (guoyongcs/DRN: ``DRNS4x.pt`` + ``DRNS4x_dual_model.pt``).

The primal state dict already uses :class:`srkit_drn.arch.DRN`'s key names; the converter checks
that every key is there with the right shape (naming the first one that is not), infers
``n_feats``/``n_blocks`` from the tensors, and turns the dual file (a list of state dicts, one per
x2 level, or a flat dict keyed ``0.…``, ``1.…``) into the ``dual.`` extras of the weights file.
:func:`export_drn` writes both files back in the release's layout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from srkit.api import Converted, Converter, ConverterInput, SrkitError, check_layout, strip_prefixes
from srkit_drn.arch import DRN, PRESETS, DualModels, n_levels

_RCAB_KEY = re.compile(r"up_blocks\.0\.(\d+)\.body\.0\.weight$")


def infer_size(state: Mapping[str, Tensor], scale: int) -> tuple[int, int]:
    """``(n_feats, n_blocks)`` of an official primal state dict (``head``, ``up_blocks.0``)."""
    head = state.get("head.weight")
    if head is None or head.dim() != 4:
        raise SrkitError("DRN checkpoint: missing key 'head.weight'; is this an official DRN file?")
    blocks = [int(m.group(1)) for key in state if (m := _RCAB_KEY.match(key))]
    n_blocks = max(blocks) + 1 if blocks else 0
    levels = n_levels(scale)
    downs = {key.split(".")[1] for key in state if key.startswith("down.")}
    if len(downs) != levels:
        raise SrkitError(
            f"DRN checkpoint: has {len(downs)} down blocks, a x{scale} DRN has {levels}; "
            f"check --scale (a x{2 ** len(downs)} checkpoint?)"
        )
    return int(head.shape[0]), n_blocks


def flatten_duals(dual: Any) -> dict[str, Tensor]:
    """The dual file as one flat dict ``<level>.dual_module.…`` (accepts list or flat dict)."""
    if isinstance(dual, (list, tuple)):
        flat: dict[str, Tensor] = {}
        for level, state in enumerate(dual):
            if not isinstance(state, Mapping):
                raise SrkitError(f"dual checkpoint: item {level} is {type(state).__name__}, "
                                 "not a state dict")
            flat.update({f"{level}.{strip_prefixes(k)}": v for k, v in state.items()})
        return flat
    if isinstance(dual, Mapping):
        return {strip_prefixes(k): v for k, v in dual.items() if isinstance(v, Tensor)}
    raise SrkitError(f"dual checkpoint: expected a list of state dicts or a dict, got "
                     f"{type(dual).__name__}")


def official_scale(state: Mapping[str, Tensor]) -> int | None:
    """The scale of an official primal state dict: one ``down`` block per x2 level."""
    if not {"head.weight", "sub_mean.weight", "add_mean.weight"} <= set(state):
        return None
    downs = {key.split(".")[1] for key in state if key.startswith("down.")}
    return 2 ** len(downs) if downs else None


def _detector(variant: str):
    def detect(state: Mapping[str, Tensor]) -> int | None:
        """The scale when ``state`` is an official DRN whose size is DRN-{variant} (or no preset)."""
        scale = official_scale(state)
        if scale is None:
            return None
        size = infer_size(state, scale)
        published = {v: PRESETS[v].get(scale) for v in PRESETS}
        if size in published.values() and published.get(variant) != size:
            return None  # the published size of the other variant
        return scale

    return detect


def export_drn(state_dict: dict[str, Tensor], kwargs: dict[str, Any],
               extras: dict[str, dict[str, Tensor]]) -> dict[str, Any]:
    """The official files: the primal state dict, and the dual models as one state dict per level."""
    files: dict[str, Any] = {"": dict(state_dict)}
    dual = extras.get("dual")
    if dual:
        levels: dict[int, dict[str, Tensor]] = {}
        for key, value in dual.items():
            level, _, rest = key.partition(".")
            levels.setdefault(int(level), {})[rest] = value
        files["_dual_model"] = [levels[i] for i in sorted(levels)]
    return files


def drn_layout_keys() -> list[str]:
    """Key names of an official DRN-S x4 primal checkpoint."""
    with torch.device("meta"):
        return list(DRN(scale=4, n_feats=16, n_blocks=30).state_dict())


def _converter(arch: str):
    def convert(state_dict: dict[str, Tensor], *, scale: int | None,
                extra: dict[str, object]) -> Converted:
        scale = scale if scale is not None else official_scale(state_dict)
        if scale is None:
            raise SrkitError(f"{arch} checkpoint: no 'down' blocks to read the scale from; pass --scale")
        n_feats, n_blocks = infer_size(state_dict, scale)
        with torch.device("meta"):  # shapes only, no allocation
            reference = DRN(scale=scale, n_feats=n_feats, n_blocks=n_blocks).state_dict()
            dual_reference = DualModels(scale, n_feats).state_dict()
        check_layout(reference, state_dict, f"{arch} x{scale} checkpoint")
        primal = {key: state_dict[key].float().contiguous() for key in reference}
        extras = {}
        if extra.get("dual") is not None:
            duals = flatten_duals(extra["dual"])
            check_layout(dual_reference, duals, f"{arch} x{scale} dual models")
            extras["dual"] = {key: value.float().contiguous() for key, value in duals.items()}
        kwargs = {"scale": scale, "n_feats": n_feats, "n_blocks": n_blocks}
        return Converted(arch=arch, kwargs=kwargs, state_dict=primal, extras=extras)

    convert.__name__ = f"convert_{arch.replace('-', '_')}"
    convert.__doc__ = f"Official DRN release -> srkit {arch} (primal + optional dual models)."
    return convert


convert_drn_s = _converter("drn-s")
convert_drn_l = _converter("drn-l")

DUAL_INPUT = ConverterInput("dual", "the official dual-model file (stored beside the generator in DST)")
DRN_S_CONVERTER = Converter(convert=convert_drn_s, detect=_detector("s"), inputs=(DUAL_INPUT,),
                            export=export_drn, layout_keys=drn_layout_keys,
                            description=("official DRN-S release (guoyongcs/DRN DRNS4x.pt, DRNS8x.pt) "
                                         "and its dual model"))
DRN_L_CONVERTER = Converter(convert=convert_drn_l, detect=_detector("l"), inputs=(DUAL_INPUT,),
                            export=export_drn, layout_keys=drn_layout_keys,
                            description=("official DRN-L release (guoyongcs/DRN DRNL4x.pt, DRNL8x.pt) "
                                         "and its dual model"))
