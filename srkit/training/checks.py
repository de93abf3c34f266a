"""Checks of a whole training config: values no single field can judge alone."""

from __future__ import annotations

from srkit.errors import SrkitError
from srkit.training.config import TrainConfig


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_config(config: TrainConfig) -> None:
    """Values no single field can judge alone; one-line errors."""
    positive = ("scale", "iters", "batch_size", "patch_size", "save_every", "log_every", "keep")
    for name in positive:
        if getattr(config, name) < 1:
            raise SrkitError(f"{_flag(name)} must be at least 1, got {getattr(config, name)}")
    for name in ("val_every", "workers"):
        if getattr(config, name) < 0:
            raise SrkitError(f"{_flag(name)} must not be negative")
    if config.patch_size % config.scale:
        raise SrkitError(
            f"--patch-size {config.patch_size} is not a multiple of --scale {config.scale}")
    if not 0.0 <= config.ema < 1.0:
        raise SrkitError(f"--ema must be a decay in [0, 1), got {config.ema}")
    if config.grad_clip < 0 or config.lr <= 0:
        raise SrkitError("--lr must be positive and --grad-clip not negative")
    if config.resume and config.init:
        raise SrkitError(
            "--resume and --init conflict: a resumed run continues from its checkpoint")
    if config.data_lr is not None and config.data is None:
        raise SrkitError("--data-lr needs --data (the HR folder it is paired with)")
