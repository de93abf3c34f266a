"""Training iterations make no host-synchronising call between logging intervals.

On a GPU, ``.item()``, ``float(t)``, ``bool(t)``, ``.tolist()`` ... on a device tensor wait for
every queued kernel, so one per step stalls the device. On the CPU the same calls are counted by
patching ``torch.Tensor``: every call made by srkit code (the trainer, its context, the data path
and the recipes) inside a training step is recorded. PyTorch's own optimizer bookkeeping is left
out: it calls ``.item()`` on step counters it keeps on the CPU, which never waits for a device.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from srkit.cli import main
from srkit.training.trainer import Trainer
from tests.fake_recipe import make_image_folder, use_tiny_plugin

SYNCING = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")
TORCH_DIR = str(Path(torch.__file__).parent)
#: the host-side data pipeline (crops, flips; the batch sampler's classes in batches.py) works on
#: CPU tensors by design
HOST_SIDE = ("augment.py", "folders.py")
HOST_SIDE_CLASSES = ("StreamBatchSampler", "SeededItems")


class SyncCounter:
    """Counts syncing ``Tensor`` calls from non-torch code while ``active``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.active, self.calls = False, []
        for name in SYNCING:
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, getattr(torch.Tensor, name)))

    def _wrap(self, name, method):  # noqa: ANN001, ANN202 - a test double
        def counted(tensor, *args, **kwargs):  # noqa: ANN001, ANN202
            frame = sys._getframe(1)
            caller = frame.f_code.co_filename
            if (self.active and not caller.startswith(TORCH_DIR)
                    and Path(caller).name not in HOST_SIDE
                    and type(frame.f_locals.get("self")).__name__ not in HOST_SIDE_CLASSES):
                self.calls.append(f"{name} in {Path(caller).name}:{sys._getframe(1).f_lineno}")
            return method(tensor, *args, **kwargs)

        return counted


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> SyncCounter:
    counter = SyncCounter(monkeypatch)
    original = Trainer._train_step

    def counted_step(self, step):  # noqa: ANN001, ANN202
        counter.active = True
        try:
            return original(self, step)
        finally:
            counter.active = False

    monkeypatch.setattr(Trainer, "_train_step", counted_step)
    return counter


def _train(recipe: str, tmp_path: Path, *extra: str) -> None:
    val = make_image_folder(tmp_path / "val", size=(32, 32))
    main(["train", recipe, "--out", str(tmp_path / "run"), "--val", str(val), "--iters", "6",
          "--batch-size", "2", "--patch-size", "32", "--workers", "0", "--device", "cpu",
          "--log-every", "3", "--save-every", "6", "--val-every", "0", *extra])


def test_tiny_recipe_steps_make_no_syncing_call(counter: SyncCounter, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    use_tiny_plugin(monkeypatch)
    _train("tiny", tmp_path, "--scale", "2")
    assert counter.calls == []


@pytest.mark.parametrize("recipe, extra", [
    ("srresnet", ("--channels", "4", "--blocks", "1")),
    ("srgan", ("--channels", "4", "--blocks", "1", "--d-channels", "4", "--content-loss", "mse",
               "--pretrain-iters", "3")),
    ("drn", ("--n-feats", "4", "--n-blocks", "1")),
])
def test_builtin_recipe_steps_make_no_syncing_call(recipe: str, extra: tuple[str, ...],
                                                   counter: SyncCounter, tmp_path: Path) -> None:
    _train(recipe, tmp_path, "--scale", "4", *extra)
    assert counter.calls == []


def test_non_finite_loss_found_at_the_next_interval_names_its_iteration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_tiny_plugin(monkeypatch)
    val = make_image_folder(tmp_path / "val", size=(32, 32))
    out = tmp_path / "run"
    with pytest.raises(SystemExit):
        main(["train", "tiny", "--out", str(out), "--val", str(val), "--iters", "8",
              "--batch-size", "2", "--patch-size", "16", "--workers", "0", "--device", "cpu",
              "--scale", "2", "--log-every", "100", "--save-every", "4", "--val-every", "0",
              "--nan-at", "1"])
    err = capsys.readouterr().err
    # the guard is read at the first checkpoint (iteration 4), before anything is saved
    assert "non-finite loss at iteration 2 (fake_term = nan)" in err
    assert not (out / "checkpoints" / "latest.json").exists()
