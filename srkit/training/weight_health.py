"""Is a network fit to be saved as "good"? Non-finite or exploded weights are not.

A diverging run can keep a finite loss for a while with weights around 1e6, which upscale
to a black image; saving those as the latest checkpoint would overwrite the last good one.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

#: largest |weight| a healthy SR network holds. Trained generators and discriminators stay
#: far below 1e2; exploded runs reach 1e5 and more. Buffers (e.g. BatchNorm statistics) are
#: only checked for being finite.
MAX_ABS_WEIGHT = 1e4


def weight_problem(modules: Mapping[str, nn.Module]) -> str | None:
    """A description of the first non-finite or exploded tensor in ``modules``, or None."""
    for module_name, module in modules.items():
        named: list[tuple[str, torch.Tensor, bool]] = [
            (name, tensor, True) for name, tensor in module.named_parameters()]
        named += [(name, tensor, False) for name, tensor in module.named_buffers()]
        for name, tensor, bounded in named:
            if not tensor.is_floating_point() or tensor.numel() == 0:
                continue
            values = tensor.detach()
            if not bool(torch.isfinite(values).all()):
                return f"{module_name}.{name} holds NaN or infinite values"
            largest = float(values.abs().max())
            if bounded and largest > MAX_ABS_WEIGHT:
                return f"{module_name}.{name} has |w| up to {largest:.3g} (bound {MAX_ABS_WEIGHT:g})"
    return None
