"""How ``run_bench`` goes through its plan: every file checked before the first image, then the
models built one at a time, each once, so a bench of many large models holds only one in memory."""

from __future__ import annotations

import functools
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from srkit import plugins
from srkit.atomic_files import atomic_save_safetensors
from srkit.errors import SrkitError
from srkit.evaluation.bench import BenchOptions, run_bench
from srkit.nn.models import build_generator
from srkit.weights.files import save_weights
from tests.core_fixture_plugin import TinyUpsampler
from tests.fake_recipe import make_image_folder

CHANNELS = {"four": 4, "five": 5, "six": 6}


@pytest.fixture(autouse=True)
def tiny_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SRKIT_PLUGIN_MODULES", "tests.core_fixture_plugin")
    monkeypatch.setenv("SRKIT_PLUGINS", "core")
    plugins.reset_registry()
    yield
    plugins.reset_registry()


def foreign(state: dict[str, torch.Tensor], path: Path) -> Path:
    """``state`` saved in the layout the fixture's ``tiny-core`` converter reads."""
    torch.save({k.replace("body.", "first.").replace("tail.", "last."): v for k, v in state.items()},
               path)
    return path


@pytest.fixture
def weights(tmp_path: Path) -> dict[str, list[Path]]:
    """Three x2 models, one a foreign checkpoint; each its own width, to tell their builds apart."""
    files = {}
    for name, channels in CHANNELS.items():
        model = build_generator("tiny-core", scale=2, channels=channels)
        if name == "six":
            files[name] = [foreign(model.state_dict(), tmp_path / "six.pth")]
        else:
            save_weights(model, tmp_path / f"{name}.safetensors")
            files[name] = [tmp_path / f"{name}.safetensors"]
    return files


class Builds:
    """Every real (not meta-device) ``TinyUpsampler`` built, and which of them are still alive."""

    def __init__(self) -> None:
        self.channels: Counter[int] = Counter()
        self.alive: weakref.WeakSet[TinyUpsampler] = weakref.WeakSet()
        self.most_alive = 0

    def record(self, model: TinyUpsampler) -> None:
        if model.body.weight.is_meta:  # a skeleton for the up-front check: no memory
            return
        self.alive.add(model)
        self.channels[model.body.out_channels] += 1
        self.most_alive = max(self.most_alive, len(self.alive))


@pytest.fixture
def builds(weights: dict[str, list[Path]], monkeypatch: pytest.MonkeyPatch) -> Builds:
    """Counts the builds after the weights files are written."""
    found = Builds()
    real_init = TinyUpsampler.__init__

    @functools.wraps(real_init)
    def init(self: TinyUpsampler, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        found.record(self)

    monkeypatch.setattr(TinyUpsampler, "__init__", init)
    return found


def options(folder: Path, weights: dict[str, list[Path]]) -> BenchOptions:
    images = make_image_folder(folder / "set", size=(24, 24))
    return BenchOptions(models=list(weights), datasets=[str(images)], scales=[2], weights=weights,
                        runs_dir=folder / "runs", warmup=0, progress=False)


def no_image(*_: Any) -> None:
    pytest.fail("an image was scored")


def test_models_are_built_one_at_a_time_and_each_once(tmp_path: Path, weights: dict[str, list[Path]],
                                                      builds: Builds) -> None:
    scored: list[str] = []

    def on_image(dataset: str, scale: int, name: str, *_: Any) -> None:
        # the model being scored is the only one in memory
        assert [m.body.out_channels for m in builds.alive] == [CHANNELS[name]]
        scored.append(name)

    result = run_bench(options(tmp_path, weights), on_image)
    assert [row.model for row in result.rows] == list(CHANNELS)
    assert scored == [name for name in CHANNELS for _ in range(2)]
    assert builds.most_alive == 1
    assert builds.channels == Counter(CHANNELS.values())  # one real build per model


def _tensors_of_another_network(folder: Path) -> tuple[Path, str]:
    path = folder / "bad.safetensors"
    atomic_save_safetensors({"stray.weight": torch.zeros(3)}, path, {
        "srkit.format": "1", "arch": "tiny-core", "kwargs": '{"scale": 2, "channels": 4}', "scale": "2"})
    return path, "bad.safetensors: the tensors do not match the metadata"


def _non_finite_tensor(folder: Path) -> tuple[Path, str]:
    model = build_generator("tiny-core", scale=2, channels=4)
    with torch.no_grad():
        model.tail.bias[0] = float("nan")
    save_weights(model, folder / "bad.safetensors")
    return folder / "bad.safetensors", "holds NaN or infinite values"


def _foreign_with_a_stray_tensor(folder: Path) -> tuple[Path, str]:
    state = {**build_generator("tiny-core", scale=2, channels=4).state_dict(),
             "body.stray": torch.zeros(2)}
    return foreign(state, folder / "bad.pth"), "converted weights do not fit 'tiny-core'"


@pytest.mark.parametrize("bad_file", [_tensors_of_another_network, _non_finite_tensor,
                                      _foreign_with_a_stray_tensor])
def test_a_bad_file_after_good_ones_fails_before_any_model_is_built(
        tmp_path: Path, weights: dict[str, list[Path]], builds: Builds, bad_file: Any) -> None:
    path, expected = bad_file(tmp_path)
    weights["bad"] = [path]  # planned last
    builds.channels.clear()  # the bad file's own writing
    with pytest.raises(SrkitError, match=expected):
        run_bench(options(tmp_path, weights), no_image)
    assert not builds.channels
