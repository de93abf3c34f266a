"""Helpers for testing srkit plugins: an isolated plugin set, a CLI runner, a plain step context.

Installed with srkit as a pytest plugin (entry point ``pytest11``), so a plugin's tests get the
fixtures without any set-up:

- ``srkit_plugins``: ``srkit_plugins("my_pkg.plugin")`` loads only the core plugin and the given
  modules (by import path, no install needed) into a fresh registry, and returns it; the
  environment and the registry are restored after the test.
- ``srkit_cli``: ``srkit_cli("train", "mine", "--iters", "2")`` runs ``srkit`` in-process and
  returns a :class:`CliResult` (exit code, stdout, stderr) instead of raising ``SystemExit``.

The functions behind them (:func:`plugin_environment`, :func:`run_cli`) and the step context
:class:`PlainStepContext` work without pytest; importing ``srkit`` never imports this module.
With :mod:`srkit.api`, this is all a plugin's tests import srkit through: the few helpers below
that reach inside srkit (:func:`srkit_main`, :func:`isolated_registry`, :func:`check_recipe_config`,
:func:`load_init_weights`) keep those tests working when srkit's internals move.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from srkit.config import TrainConfig
    from srkit.interfaces import Recipe
    from srkit.registry import Registry

#: the environment variables that choose which plugins load (see :mod:`srkit.plugins`)
PLUGIN_VARIABLES = ("SRKIT_PLUGINS", "SRKIT_DISABLE_PLUGINS", "SRKIT_PLUGIN_MODULES")


@dataclass(frozen=True)
class CliResult:
    """What one ``srkit`` invocation did: its exit status and what it wrote."""

    code: int
    out: str
    err: str


def run_cli(*argv: object) -> CliResult:
    """Run ``srkit ARGV`` in this process (arguments are turned into strings), capturing output.

    ``srkit.cli.main`` raises ``SystemExit`` on failure (2 for a one-line user error) and
    returns on success; here both become :attr:`CliResult.code`.
    """
    from srkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())


def srkit_main(argv: Sequence[str]) -> None:
    """Run ``srkit ARGV`` in this process exactly as the console script does: a one-line user
    error is printed and raises ``SystemExit(2)``."""
    from srkit.cli import main

    main(list(argv))


def effective_config(recipe: str, *argv: str) -> TrainConfig:
    """The config ``srkit train RECIPE ARGV`` would run with (flags > config file > preset >
    defaults), without training."""
    import click

    from srkit.cli import build_cli
    from srkit.cli.train import effective_config as build
    from srkit.plugins import lookup

    train = build_cli().get_command(click.Context(click.Group()), "train")
    assert isinstance(train, click.Group)
    command = train.get_command(click.Context(train), recipe)
    assert command is not None, f"no recipe {recipe!r}"
    ctx = command.make_context(recipe, list(argv))
    return build(recipe, lookup("recipe", recipe).config_class, ctx, ctx.params.get("config"),
                 ctx.params.get("preset"))


def isolated_registry(*modules: ModuleType) -> Registry:
    """A fresh registry holding only the plugin ``modules`` (not even ``core``), each named after
    its module's last dotted part; failures are in ``registry.failed``, not raised."""
    from srkit.plugins import build_registry
    from srkit.registry import Origin

    registry, _ = build_registry([(m, Origin(m.__name__.rsplit(".", 1)[-1])) for m in modules])
    return registry


def check_recipe_config(config: TrainConfig, recipe_class: type[Recipe]) -> None:
    """The checks ``srkit train`` makes of ``config`` before a run starts (option bounds, then
    ``recipe_class.validate``); raises the one-line ``SrkitError`` the user would see."""
    from srkit.training.config_io import check_config

    check_config(config, recipe_class)


def load_init_weights(path: str | os.PathLike[str], recipe: Recipe, arch: str) -> list[str]:
    """Load ``--init`` weights into ``recipe``'s nets as ``srkit train`` does; returns the names
    of the nets that received weights."""
    from srkit.training.state import load_init_weights as load

    return load(Path(path), recipe, arch)


@contextlib.contextmanager
def plugin_environment(*modules: str, entry_points: Iterable[str] = ()) -> Iterator[Registry]:
    """Load only ``core``, the named installed ``entry_points`` and the plugin ``modules``.

    Yields the fresh registry; afterwards the environment variables are as before and the
    registry is rebuilt on its next use.
    """
    from srkit import plugins

    saved = {name: os.environ.get(name) for name in PLUGIN_VARIABLES}
    os.environ.pop("SRKIT_DISABLE_PLUGINS", None)
    os.environ["SRKIT_PLUGINS"] = ",".join(["core", *entry_points])
    os.environ["SRKIT_PLUGIN_MODULES"] = ",".join(modules)
    plugins.reset_registry()
    try:
        yield plugins.get_registry()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        plugins.reset_registry()


def make_recipe(name: str, device: str = "cpu", **options: Any) -> Recipe:
    """The registered recipe ``name`` built on ``device`` with its config's ``options`` changed.

    Options the recipe's config does not have are a ``TypeError``, as in the dataclass.
    """
    import torch

    from srkit.plugins import lookup

    recipe_class = lookup("recipe", name)
    return recipe_class(recipe_class.config_class(**options), torch.device(device))


@dataclass
class PlainStepContext:
    """The :class:`~srkit.interfaces.StepContext` contract in fp32: no scaling, clipping, DDP
    or EMA, so a test can compute by hand what one ``train_step`` must do.

    ``losses`` records each loss handed to :meth:`backward_and_step` (detached) by optimizer.
    """

    recipe: Recipe
    iteration: int = 0
    device: torch.device = field(default=None)  # type: ignore[assignment]
    losses: dict[str, list[torch.Tensor]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import torch

        if self.device is None:
            self.device = torch.device("cpu")

    def net(self, name: str) -> torch.nn.Module:
        return self.recipe.nets[name]

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def backward_and_step(self, loss: torch.Tensor, optimizer: str) -> None:
        opt = self.recipe.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.losses.setdefault(optimizer, []).append(loss.detach())


def make_image_folder(folder: str | os.PathLike[str], count: int = 2,
                      size: Sequence[int] = (48, 48), seed: int = 0) -> Path:
    """``count`` smooth random RGB PNGs of ``size`` (height, width) in ``folder``; returns it.

    Blocks of 8x8 pixels rather than pure noise, so a few training steps have something to learn.
    """
    import numpy as np
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    height, width = size
    for i in range(count):
        blocks = rng.random((-(-height // 8), -(-width // 8), 3))
        smooth = np.kron(blocks, np.ones((8, 8, 1)))[:height, :width]
        Image.fromarray((smooth * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def save_random_vgg19(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """A torchvision-style ``vgg19`` state dict (``features.N.*``) with small random values, saved
    at ``path``: the ImageNet file's stand-in for tests of perceptual losses (it cannot be
    downloaded in tests). Returns ``path``."""
    import torch

    from srkit.weights.vgg19 import vgg19_features

    generator = torch.Generator().manual_seed(seed)
    state = {f"features.{key}": torch.randn(tensor.shape, generator=generator) * 0.05
             for key, tensor in vgg19_features().state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


try:  # the fixtures exist where pytest does; the helpers above work without it
    import pytest
except ImportError:  # pragma: no cover - srkit installed without its dev extra
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def srkit_plugins() -> Iterator[Any]:
        """``srkit_plugins(*modules, entry_points=())`` -> the registry of only those plugins."""
        with contextlib.ExitStack() as stack:

            def load(*modules: str, entry_points: Iterable[str] = ()) -> Registry:
                stack.close()
                return stack.enter_context(plugin_environment(*modules, entry_points=entry_points))

            yield load

    @pytest.fixture
    def srkit_cli() -> Any:
        """``srkit_cli(*argv)`` -> :class:`CliResult`, running ``srkit`` in this process."""
        return run_cli
