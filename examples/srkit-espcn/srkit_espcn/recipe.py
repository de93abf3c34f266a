"""``srkit train espcn``: ESPCN trained with a pixel loss (MSE, as in the paper).

The shared :class:`~srkit.training.pixel_recipe.PixelRecipe` does the work (one generator, one
optimizer, one loss); this recipe only names the architecture and adds its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from srkit.api import PixelConfig, PixelRecipe, TrainConfig, option


@dataclass
class ESPCNConfig(PixelConfig):
    """Every field is also a ``srkit train espcn --flag`` and a config-file key."""

    #: inherited options with this recipe's defaults (help text, type and bounds are kept)
    defaults: ClassVar[dict[str, Any]] = {"learning_rate": 1e-3}

    loss: str = option("mse", "pixel loss: mse (the paper's), l1 or any registered loss")
    color: str = option("rgb", "rgb: all channels through the network; y: luma only (the paper)",
                        choices=("rgb", "y"))
    features1: int = option(64, "width of the first (5x5) layer", min=1)
    features2: int = option(32, "width of the second (3x3) layer", min=1)


class ESPCNRecipe(PixelRecipe):
    """One ESPCN generator, one pixel loss, Adam."""

    config_class: ClassVar[type[TrainConfig]] = ESPCNConfig
    config: ESPCNConfig
    description: ClassVar[str] = (
        "ESPCN (Shi et al. 2016): 3 convolutions, sub-pixel upsampling, MSE")
    arch: ClassVar[str] = "espcn"

    def generator_kwargs(self) -> dict[str, Any]:
        config = self.config
        return {"scale": config.scale, "color": config.color,
                "features": [config.features1, config.features2]}
