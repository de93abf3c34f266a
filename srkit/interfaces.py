"""The interfaces plugins implement. Every image tensor in srkit follows one convention:

    float tensor, shape (N, 3, H, W), RGB, values in [0, 1]

(generators may return values slightly outside [0, 1]; callers clamp before quantising).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from srkit.config import TrainConfig


@runtime_checkable
class Generator(Protocol):
    """A super-resolution network: ``nn.Module`` mapping LR (N,3,h,w) to SR (N,3,h*scale,w*scale).

    Built by a factory registered with ``register_generators`` as ``factory(scale=..., **kwargs)``.
    The module exposes its integer ``scale``. Build one with :func:`srkit.nn.models.build_generator`,
    which also records the architecture name and arguments so weights can be saved self-describing.
    """

    scale: int

    def __call__(self, lr: Tensor) -> Tensor: ...


@runtime_checkable
class Degradation(Protocol):
    """Maps HR batches (N,3,H,W) to LR batches (N,3,H/scale,W/scale), both in [0, 1].

    Built by a factory registered with ``register_degradations`` as ``factory(**options)``.
    Deterministic unless it is randomised; randomised ones draw only from ``generator``.
    H and W must be multiples of ``scale``. The output may overshoot [0, 1] and stay float:
    every caller goes through :func:`srkit.degradations.make_lr`, which clamps and rounds to
    8 bits (unless training turns that off with ``--no-quantize-lr``).

    """

    def __call__(self, hr: Tensor, scale: int, *, generator: torch.Generator | None = None) -> Tensor: ...


@dataclass
class Batch:
    """One training batch, already on the training device.

    ``hr``: (N,3,H,W) targets; ``lr``: (N,3,H/s,W/s) inputs made from ``hr`` by the run's degradation
    (or read from a paired folder). ``extra`` holds the recipe's additional streams (see
    :meth:`Recipe.extra_datasets`), e.g. ``extra["unpaired_lr"]``: LR-only crops with no HR, and the
    targets it derives from ``hr`` (:meth:`Recipe.prepare_batch`).
    """

    lr: Tensor
    hr: Tensor
    extra: dict[str, Tensor] = field(default_factory=dict)


class StepContext(Protocol):
    """What the trainer gives a recipe for one training step.

    The trainer owns mixed precision, gradient scaling, clipping, DDP and EMA; a recipe only
    computes losses inside :meth:`autocast` and hands each one to :meth:`backward_and_step`.
    """

    iteration: int
    device: torch.device

    def net(self, name: str) -> nn.Module:
        """The module ``recipe.nets[name]`` as it must be called for training (DDP-wrapped, compiled)."""
        ...

    def autocast(self) -> AbstractContextManager[Any]:
        """Context for forward passes: autocast in the run's precision, or a no-op in fp32."""
        ...

    def backward_and_step(self, loss: Tensor, optimizer: str) -> None:
        """zero_grad, (scaled) backward, unscale, clip, step the named optimizer; updates EMA of its nets."""
        ...


class Recipe(ABC):
    """A trainable model: which networks, which losses, how one training step goes.

    Registered with ``register_recipes`` under the name ``srkit train NAME`` uses. The trainer
    constructs it as ``Recipe(config, device)``, then checkpoints everything in :attr:`nets`,
    :attr:`optimizers` and :attr:`schedulers`, validates and exports ``nets["generator"]``.
    """

    #: dataclass (a subclass of :class:`srkit.config.TrainConfig`) listing the recipe's
    #: options; every field becomes a ``srkit train NAME --flag`` and a config-file key.
    config_class: ClassVar[type[TrainConfig]]
    #: one line shown by ``srkit train --help`` and ``srkit plugins``.
    description: ClassVar[str] = ""
    #: ``srkit train NAME`` arguments a first run needs on a fresh install when the defaults
    #: read a file the user may not have (SRGAN: ``("--content-loss", "mse")``, no VGG19 file);
    #: the hints that suggest training this recipe include them, so the command works as given.
    first_run_args: ClassVar[tuple[str, ...]] = ()

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.device = device

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        """Reject configs this recipe cannot train, with a one-line :class:`srkit.errors.SrkitError`.

        Called before any work starts, after every field was checked against the bounds declared
        in its ``option(...)``; put only rules that involve this recipe's meaning here.
        """
        return None

    @abstractmethod
    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        """Run one optimisation step; return every loss term (detached scalars) for the log.

        A non-finite value in the returned dict stops the run and names the term.
        """

    def extra_datasets(self) -> dict[str, torch.utils.data.Dataset]:
        """Additional named data streams; the trainer batches each into ``batch.extra[name]``."""
        return {}

    def prepare_batch(self, batch: Batch, degradation: Degradation, generator: torch.Generator) -> None:
        """Add to ``batch.extra`` the targets this recipe derives from ``batch.hr``.

        Called for every batch on the training device, without gradients, before
        :meth:`train_step`. ``degradation`` is the run's; ``generator`` is seeded exactly like the
        one that made ``batch.lr`` from ``batch.hr``, so targets can come from the same random draw.
        """
        return None

    def describe_stream(self, name: str, count: int) -> str:
        """How the start summary names extra stream ``name`` holding ``count`` images, in the
        user's words (e.g. "20 LR-only images (30% of each batch)")."""
        return f"{count} images in stream {name!r}"

    def phase(self, iteration: int) -> str:
        """A short name of the training phase at ``iteration`` (shown in logs), e.g. ``pretrain``."""
        return "train"

    def start_notes(self) -> list[str]:
        """Sentences printed once when a run starts: what this configuration does, when surprising."""
        return []

    def ema_nets(self) -> Iterator[str]:
        """Names of the nets whose exponential moving average is kept when ``--ema`` is on."""
        yield "generator"

    def export_extras(self) -> dict[str, nn.Module]:
        """Further modules saved beside the generator in the weights file, by name; ``--init``
        loads them back into the net of the same name."""
        return {}


# Converters: foreign checkpoints -> srkit weights (``register_converters``).

@dataclass
class Converted:
    """What a converter returns: how to rebuild the module and its srkit state dict."""

    arch: str
    kwargs: dict[str, Any]
    state_dict: dict[str, Tensor]
    extras: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    kind: str = "generator"
    #: the registered converter that produced it (set by :func:`srkit.weights.convert.convert_state_dict`)
    converter: str = ""


#: ``detect(state_dict)``: the scale the tensors upscale by when they are in the converter's
#: layout, ``True`` when they are but the layout does not record a scale, ``None``/``False`` when not.
DetectFn = Callable[[Mapping[str, Tensor]], "int | bool | None"]
ConvertFn = Callable[..., Converted]
#: ``export(state_dict, kwargs, extras)``: the files of the foreign layout, ``{suffix: payload}``;
#: suffix ``""`` is the main file, others (``"_aux"``) are files written beside it.
ExportFn = Callable[[dict[str, Tensor], dict[str, Any], dict[str, dict[str, Tensor]]], dict[str, Any]]


@dataclass(frozen=True)
class ConverterInput:
    """A further file a converter reads: ``srkit convert SRC DST --NAME FILE`` (``extra[NAME]``)."""

    name: str
    help: str


@dataclass(frozen=True)
class Converter:
    """A registered converter and what it declares besides the conversion itself.

    ``register(name, convert)`` still works: a plain function becomes a converter without
    detection, or with the ``detect`` / ``inputs`` / ``export`` attributes it carries.
    ``fallback`` converters (catch-all libraries) are asked only when no other one recognises a
    file, so a plugin's own faithful implementation wins. ``arch`` is the srkit architecture whose
    weights ``export`` writes back (default: the registered name). ``layout_keys`` lists the key
    names of a typical checkpoint, to name the closest layouts when nothing matches; ``missing``
    says what to install when the converter cannot work here (an optional dependency).
    ``description``: one line for ``srkit plugins`` saying which release's files it reads
    (default: the summary of ``convert``'s docstring).
    """

    convert: ConvertFn
    detect: DetectFn | None = None
    inputs: tuple[ConverterInput, ...] = ()
    export: ExportFn | None = None
    arch: str | None = None
    fallback: bool = False
    layout_keys: Callable[[], Iterable[str]] | None = None
    missing: Callable[[], str | None] | None = None
    description: str = ""

    def __call__(self, state_dict: dict[str, Tensor], *, scale: int | None,
                 extra: dict[str, Any]) -> Converted:
        return self.convert(state_dict, scale=scale, extra=extra)


def converter_problem(obj: Any) -> str | None:
    """Why a registered converter is unusable (checked when its plugin loads), or None."""
    if not callable(obj):
        return f"is {obj!r}, not a converter function or srkit.api.Converter"
    converter = as_converter(obj)
    for field_name in ("convert", "detect", "export", "layout_keys", "missing"):
        value = getattr(converter, field_name)
        if value is not None and not callable(value):
            return f"declares {field_name}={value!r}, which is not a function"
    for item in converter.inputs:
        if not isinstance(item, ConverterInput) or not re.fullmatch(r"[a-z][a-z0-9-]*", item.name):
            return f"declares input {item!r}; inputs are ConverterInput(name, help), names lower-case"
    return None


def as_converter(obj: Any) -> Converter:
    """The :class:`Converter` view of a registered object (a Converter or a plain function)."""
    if isinstance(obj, Converter):
        return obj
    return Converter(convert=obj, detect=getattr(obj, "detect", None),
                     inputs=tuple(getattr(obj, "inputs", ())), export=getattr(obj, "export", None),
                     layout_keys=getattr(obj, "layout_keys", None))
