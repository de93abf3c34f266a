"""DRN's loss: L1 in float32 between an output level (primal or dual) and its target.

The primal and dual terms are sums of it over the levels (:meth:`srkit_drn.recipe.DRNRecipe.losses`);
computing it in float32 keeps mixed-precision runs comparable with the official fp32 code.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F


def l1(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error of two (N,3,H,W) batches, in float32."""
    return F.l1_loss(prediction.float(), target.float())
