"""Degradations that turn HR images into LR inputs, and the MATLAB-compatible resize they share."""

from srkit.degradations.bicubic import BicubicDegradation, BlurBicubicDegradation
from srkit.degradations.imresize import imresize

__all__ = ["BicubicDegradation", "BlurBicubicDegradation", "imresize"]
