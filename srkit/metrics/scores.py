"""PSNR and SSIM of a pair together, from one preparation of the 8-bit planes."""

from __future__ import annotations

from torch import Tensor

from srkit.metrics.pairs import YChannel, score_pairs
from srkit.metrics.psnr import psnr_of_stack
from srkit.metrics.ssim import ssim_of_stack


def psnr_ssim(sr: Tensor, hr: Tensor, *, crop: int, y_channel: YChannel = True) -> tuple[Tensor, Tensor]:
    """``(psnr(sr, hr, ...), ssim(sr, hr, ...))`` with the quantisation, luma and crop done once.

    Same arguments and results as :func:`srkit.metrics.psnr` and :func:`srkit.metrics.ssim`.
    """
    psnr, ssim = score_pairs(sr, hr, crop=crop, y_channel=y_channel, name="psnr/ssim",
                             # PSNR first: SSIM uses the whole stack as work space.
                             scores=lambda stack, scratch: (psnr_of_stack(stack),
                                                            ssim_of_stack(stack, scratch=scratch)))
    return psnr, ssim
