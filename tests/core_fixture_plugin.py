"""A minimal plugin module for core tests: one tiny generator and a converter for it."""

from __future__ import annotations

from torch import Tensor, nn

from srkit.hookspecs import Register, hookimpl
from srkit.interfaces import Converted, ConverterInput


class TinyUpsampler(nn.Module):
    """conv -> PixelShuffle: the smallest real generator, for weight round trips."""

    def __init__(self, scale: int = 2, channels: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Conv2d(3, channels, 3, padding=1)
        self.tail = nn.Conv2d(channels, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, lr: Tensor) -> Tensor:
        return self.shuffle(self.tail(self.body(lr)))


def convert_foreign_tiny(state: dict[str, Tensor], *, scale: int, extra: dict) -> Converted:
    renamed = {k.replace("first.", "body.").replace("last.", "tail."): v for k, v in state.items()}
    channels = renamed["body.weight"].shape[0]
    return Converted("tiny-core", {"scale": scale, "channels": channels}, renamed,
                     extras={"aux": {"w": extra["dual"]["w"]}} if "dual" in extra else {})


# a plain function still registers; what it declares rides on it as attributes
convert_foreign_tiny.detect = lambda state: ("first.weight" in state and "last.weight" in state
                                             and round((state["last.weight"].shape[0] / 3) ** 0.5))
convert_foreign_tiny.inputs = (ConverterInput("dual", "a file of auxiliary tensors"),)


@hookimpl
def register_generators(register: Register) -> None:
    register("tiny-core", TinyUpsampler)


@hookimpl
def register_converters(register: Register) -> None:
    register("tiny-core", convert_foreign_tiny)
