"""Fine-tuning a model spandrel reads: the pixel recipe (L1/MSE) started from ``--init FILE``."""

from __future__ import annotations

from typing import Any

from srkit.api import PixelRecipe, SrkitError


class SpandrelRecipe(PixelRecipe):
    """Fine-tunes the network of ``--init FILE`` (any file spandrel reads) with one pixel loss."""

    description = "Fine-tune a model spandrel reads (--init FILE, e.g. Real-ESRGAN) with L1/MSE."
    arch = "spandrel"

    def generator_kwargs(self) -> dict[str, Any]:
        from srkit.api import read_model_file

        init = self.config.init
        if not init:
            raise SrkitError("srkit train spandrel: needs --init FILE, the model to fine-tune")
        _, info = read_model_file(init)
        if info["arch"] != self.arch:
            raise SrkitError(f"{init}: holds srkit's own {info['arch']!r} architecture; fine-tune it "
                             "with that architecture's recipe (srkit train --help lists them)")
        if info["scale"] != self.config.scale:
            raise SrkitError(f"{init}: the model upscales x{info['scale']}; pass --scale {info['scale']}")
        return info["kwargs"]
