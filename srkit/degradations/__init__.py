"""Degradations that turn HR images into LR inputs (``imresize`` holds the MATLAB bicubic they share)."""

from srkit.degradations.bicubic import BicubicDegradation, BlurBicubicDegradation

__all__ = ["BicubicDegradation", "BlurBicubicDegradation"]
