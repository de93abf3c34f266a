"""Image-quality metrics on batched tensors (any device), computed the way SR papers report them."""

from srkit.metrics.color import DEFAULT_Y_MODE, Y_MODES, quantize, rgb_to_y
from srkit.metrics.psnr import psnr
from srkit.metrics.scores import psnr_ssim
from srkit.metrics.ssim import ssim

__all__ = ["DEFAULT_Y_MODE", "Y_MODES", "psnr", "psnr_ssim", "quantize", "rgb_to_y", "ssim"]
