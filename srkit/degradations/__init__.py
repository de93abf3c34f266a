"""Degradations that turn HR images into LR inputs (``imresize`` holds the MATLAB bicubic they
share; ``lr`` the one function every path makes LR with)."""

from srkit.degradations.bicubic import BicubicDegradation, BlurBicubicDegradation
from srkit.degradations.lr import make_lr

__all__ = ["BicubicDegradation", "BlurBicubicDegradation", "make_lr"]
