"""Training configuration: a typed dataclass per recipe, loadable from TOML/YAML, set by flags.

A recipe's config subclasses :class:`TrainConfig`. It changes an inherited option's default with
the ``defaults`` class attribute instead of re-declaring the option, and an option whose default
depends on other options (``--scale``, ``--init``) gets a :class:`Derived` default, computed when
the config is built unless the option was given. Named ``presets`` (``--preset quick``) are sets
of option values for short runs, so the defaults themselves stay the papers' recipes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from srkit.errors import SrkitError


@dataclass(frozen=True)
class Derived:
    """A default computed from the other options of the config being built.

    ``compute(config)`` reads any other option as an attribute (derived ones are computed first,
    in whatever order they depend on each other) and ``config.given(name)`` says whether an
    option with a derived default was set; ``text`` is what ``--help`` shows as the default.
    """

    compute: Callable[[Any], Any]
    text: str

    def __str__(self) -> str:
        return self.text


def by_scale(values: Mapping[int, Any], otherwise: Any = None) -> Derived:
    """A default that depends on ``--scale``: ``values[scale]``, else ``otherwise``."""
    table = dict(values)
    shown = ", ".join(f"{v} at x{s}" for s, v in sorted(table.items()))
    if otherwise is not None:
        shown += f", else {otherwise}"

    def compute(config: Any) -> Any:
        if config.scale in table:
            return table[config.scale]
        if otherwise is None:
            raise SrkitError(f"no default for x{config.scale} (known: "
                             f"{', '.join(f'x{s}' for s in sorted(table))}); give the option")
        return otherwise

    return Derived(compute, shown)


#: more iterations than any run makes; also what the checkpoint record accepts
MAX_ITERS = 10**9
#: the bound of every number whose option declares no ``max``: sizes beyond it are typos
DEFAULT_MAX = 10**9


def option(default, help: str, **extra):  # noqa: A002 - mirrors click's keyword
    """A config field with the help text its ``srkit train`` flag shows.

    ``default`` may be a :class:`Derived`. ``extra`` metadata, checked for every recipe before a
    run starts (:func:`srkit.training.config_io.check_config`): ``choices=(...)`` restricts the value;
    ``min=`` / ``max=`` bound a number (inclusive unless ``min_exclusive=True`` /
    ``max_exclusive=True``). Numbers must also be finite, and at most :data:`DEFAULT_MAX` when
    no ``max`` is declared. A subclass re-declaring a field without
    bounds keeps the bounds of the field it overrides. Shown by the CLI: ``path="file"`` or
    ``path="dir"`` marks a path (shown as FILE or DIRECTORY), ``metavar="..."`` names the value in
    ``--help``. ``renamed_from=("old_name", ...)``: earlier names of the option, still read (with a
    warning) from flags, config files, presets, ``defaults`` and attribute access, and silently
    from the configs saved in checkpoints, so runs and files made before a rename keep working.
    """
    return field(default=default, metadata={"help": help, **extra})


def renamed_options(config_class: type) -> dict[str, str]:
    """``{old name: current name}`` of every option of ``config_class`` that was renamed."""
    names = {f.name for f in dataclasses.fields(config_class)}
    renamed = {}
    for base in reversed(config_class.__mro__):  # a subclass re-declaring an option keeps them
        for name, declared in base.__dict__.get("__dataclass_fields__", {}).items():
            if name in names:
                renamed.update({old: name for old in declared.metadata.get("renamed_from", ())})
    return renamed


def rename_warning(source: str, old: str, new: str, flag: bool = False) -> None:
    """The one-line notice that ``old`` (a key, or a flag when ``flag``) is now ``new``."""
    import warnings

    shown = (f"--{old.replace('_', '-')}", f"--{new.replace('_', '-')}") if flag else (old, new)
    where = f"{source}: " if source else ""
    warnings.warn(f"{where}{shown[0]} is now called {shown[1]}; the old name will be removed in "
                  "a later release", FutureWarning, stacklevel=3)


class _Resolver:
    """Attribute view of a config whose derived defaults are computed on first access."""

    def __init__(self, config: TrainConfig) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_busy", set())

    def given(self, name: str) -> bool:
        """Whether option ``name`` holds a value rather than a default still to derive."""
        return not isinstance(getattr(self._config, name), Derived)

    def __getattr__(self, name: str) -> Any:
        config, busy = self._config, self._busy
        value = getattr(config, name)
        if not isinstance(value, Derived):
            return value
        if name in busy:
            raise SrkitError(f"{type(config).__name__}: derived default of {name!r} depends on itself")
        busy.add(name)
        value = value.compute(self)
        busy.discard(name)
        setattr(config, name, value)
        return value


@dataclass
class TrainConfig:
    """Options shared by every recipe. A recipe subclasses this to add its own fields."""

    #: new defaults of inherited options, ``{name: value or Derived}`` (help and type are kept)
    defaults: ClassVar[dict[str, Any]] = {}
    #: named option sets for ``--preset NAME``: ``{name: (one-line description, {option: value})}``
    presets: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = {}

    data: str | None = option(None, "HR image folder (default: the bundled demo photos)",
                              path="dir")
    data_lr: str | None = option(
        None, "LR folder paired with --data (same names or DIV2K-style 0001x4.png)", path="dir")
    val: str = option("set5", "validation set: a bundled name (set5, set14) or an HR folder",
                      metavar="NAME|DIRECTORY")
    scale: int = option(4, "upscaling factor", min=1, max=64)
    iters: int = option(1000, "training iterations", min=1, max=MAX_ITERS)
    batch_size: int = option(16, "batch size per process", min=1, max=65536)
    patch_size: int = option(96, "HR crop size in pixels", min=1, max=8192)
    learning_rate: float = option(1e-4, "learning rate", min=0, min_exclusive=True, max=1,
                                  renamed_from=("lr",))
    learning_rate_schedule: str = option("constant", "constant, multistep or cosine",
                                         choices=("constant", "multistep", "cosine"),
                                         renamed_from=("lr_schedule",))
    learning_rate_milestones: str = option(
        "", "multistep: comma-separated iterations where the learning rate is multiplied by "
        "--learning-rate-gamma (default: halfway)", renamed_from=("lr_milestones",))
    learning_rate_gamma: float = option(0.1, "multistep: factor at each milestone", min=0,
                                        min_exclusive=True, max=1, renamed_from=("lr_gamma",))
    learning_rate_min: float = option(1e-7, "cosine: final learning rate", min=0, max=1,
                                      renamed_from=("lr_min",))
    degradation: str = option(
        "bicubic", "degradation that makes LR from HR crops: NAME or NAME:key=value,...")
    quantize_lr: bool = option(
        True, "round the LR made from HR crops to 8 bits, as LR PNG files are (off: float LR)")
    out: str | None = option(None, "run folder (default: runs/<recipe>_x<scale>)", path="dir")
    seed: int = option(0, "random seed", min=0, max=2**63 - 1)
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps", metavar="DEVICE")
    resume: bool = option(False, "resume from the latest checkpoint in --out")
    init: str | None = option(
        None, "start from these weights: srkit .safetensors or any checkpoint srkit convert reads; "
        "its scale is used when --scale is not given", path="file")
    save_every: int = option(500, "write a checkpoint every N iterations", min=1)
    keep: int = option(2, "keep only the newest K checkpoints in OUT/checkpoints (older ones "
                       "are deleted; model.safetensors and best.safetensors are always kept)", min=1,
                       max=10000)
    val_every: int = option(500, "validate every N iterations (0 = only at the end)", min=0)
    log_every: int = option(10, "log losses every N iterations", min=1)
    amp: str = option("off", "mixed precision: off, bf16 or fp16", choices=("off", "bf16", "fp16"))
    channels_last: bool = option(False, "use channels_last memory format")
    compile: bool = option(False, "torch.compile the networks")
    ema: float = option(0.0, "EMA decay of generator weights (0 = off)", min=0, max=1,
                        max_exclusive=True)
    grad_clip: float = option(0.0, "clip gradient norm (0 = off)", min=0)
    workers: int = option(2, "data loader worker processes", min=0, max=256)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Turn ``defaults`` into re-declared fields before ``@dataclass`` reads the class."""
        super().__init_subclass__(**kwargs)
        new_defaults = cls.__dict__.get("defaults", {})
        if not new_defaults:
            return
        inherited = {}
        for base in reversed(cls.__mro__[1:]):
            if dataclasses.is_dataclass(base):
                inherited.update({f.name: f for f in dataclasses.fields(base)})
        annotations = cls.__dict__.get("__annotations__", {})
        renamed = {old: new for base in cls.__mro__[1:] if dataclasses.is_dataclass(base)
                   for old, new in renamed_options(base).items()}
        for old in [name for name in new_defaults if name in renamed]:
            rename_warning(f"{cls.__name__}.defaults", old, renamed[old])
        cls.defaults = new_defaults = {renamed.get(k, k): v for k, v in new_defaults.items()}
        for name, value in new_defaults.items():
            if name not in inherited:
                raise TypeError(f"{cls.__name__}.defaults: {name!r} is not an inherited option")
            if name in annotations:
                raise TypeError(f"{cls.__name__}: {name!r} is both declared and in defaults")
            base_field = inherited[name]
            annotations[name] = base_field.type
            setattr(cls, name, field(default=value, metadata=base_field.metadata))
        cls.__annotations__ = annotations

    if not TYPE_CHECKING:  # hidden from type checkers, which then still catch misspelt options
        def __getattr__(self, name: str) -> Any:
            """An option's earlier name still reads it (with a warning), for code written before."""
            if not name.startswith("__"):
                current = renamed_options(type(self)).get(name)
                if current is not None:
                    rename_warning(type(self).__name__, name, current)
                    return getattr(self, current)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __post_init__(self) -> None:
        resolver = _Resolver(self)
        for f in dataclasses.fields(self):
            getattr(resolver, f.name)
