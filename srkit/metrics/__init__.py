"""Image-quality metrics on batched tensors (any device), computed the way SR papers report them."""

from srkit.metrics.color import quantize, rgb_to_y
from srkit.metrics.psnr import psnr
from srkit.metrics.ssim import ssim

__all__ = ["psnr", "quantize", "rgb_to_y", "ssim"]
