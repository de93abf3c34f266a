"""srkit plugin: realistic degradations (blur kernels, resizing, noise, JPEG), for every recipe.

Registers the degradations ``realistic`` (randomised, first or second order as in Real-ESRGAN)
and ``blur-noise-jpeg`` (fixed parameters, to name one unknown degradation exactly), usable as
``srkit train ... --degradation NAME[:key=value,...]`` and by ``srkit degrade``.
"""

from __future__ import annotations

from srkit.api import Register, hookimpl

SRKIT_PLUGIN_API = 4


@hookimpl
def register_degradations(register: Register) -> None:
    from srkit_realistic.pipeline import BlurNoiseJpegDegradation, RealisticDegradation

    register("realistic", RealisticDegradation)
    register("blur-noise-jpeg", BlurNoiseJpegDegradation)
