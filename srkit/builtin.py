"""The core plugin: degradations, the bicubic baseline and pixel losses, registered like any plugin."""

from __future__ import annotations

from srkit.hookspecs import Register, hookimpl


@hookimpl
def register_degradations(register: Register) -> None:
    from srkit.degradations.bicubic import BicubicDegradation, BlurBicubicDegradation
    from srkit.degradations.nearest import BDDegradation, NearestDegradation

    register("bicubic", BicubicDegradation)
    register("blur-bicubic", BlurBicubicDegradation)
    register("nearest", NearestDegradation)
    register("bd", BDDegradation)


@hookimpl
def register_generators(register: Register) -> None:
    from srkit.nn.baseline import BicubicUpsampler

    register("bicubic", BicubicUpsampler)


@hookimpl
def register_losses(register: Register) -> None:
    from srkit.nn.losses import l1_loss, mse_loss

    register("l1", l1_loss)
    register("mse", mse_loss)
