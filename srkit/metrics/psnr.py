"""Peak signal-to-noise ratio as reported by super-resolution papers."""

from __future__ import annotations

import torch
from torch import Tensor

from srkit.metrics.pairs import YChannel, score_pairs


def psnr(sr: Tensor, hr: Tensor, *, crop: int, y_channel: YChannel = True) -> Tensor:
    """PSNR in dB of each image of a batch, on 8-bit values with peak 255.

    Args:
        sr, hr: (N,3,H,W) or (3,H,W) images in [0, 1]; both are quantised to 8 bits first.
        crop: border pixels ignored on every side (the protocol uses ``scale``).
        y_channel: compare the BT.601 luma (MATLAB ``rgb2ycbcr``): ``"matlab"`` or True rounds
            it to integers as MATLAB does on 8-bit images, ``"basicsr"`` keeps it unrounded;
            False: compare R, G, B.

    Returns:
        float64 tensor (N,) on the input device (float32 on MPS); ``inf`` for identical images.
    """
    (scores,) = score_pairs(sr, hr, crop=crop, y_channel=y_channel, name="psnr",
                            scores=lambda stack, _: (psnr_of_stack(stack),))
    return scores


def psnr_of_stack(stack: Tensor) -> Tensor:
    """PSNR (dB, peak 255) of each prepared pair of a stack -> (N,).

    The stack is :data:`srkit.metrics.pairs.STACK_PLANES` planes; the difference is written
    into its first work plane.
    """
    difference = torch.sub(stack[0], stack[1], out=stack[2]).flatten(1)
    # The norm is the sum of squares in one pass (squaring, then averaging, takes two).
    mse = torch.linalg.vector_norm(difference, dim=1).square_() / difference.shape[1]
    return 10 * torch.log10(255.0**2 / mse)
