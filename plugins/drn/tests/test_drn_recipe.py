"""The drn recipe: paired dual regression, and LR-only samples trained by the closed loop alone."""

from __future__ import annotations

import copy
from contextlib import nullcontext

import pytest
import torch
from PIL import Image

from srkit.errors import SrkitError
from srkit.interfaces import Batch
from srkit.models import build_generator
from srkit.weights import save_weights
from srkit_drn.arch import DualModels
from srkit_drn.recipe import DRNConfig, DRNRecipe

LR_SIZE = 8


class RecordingContext:
    """Minimal StepContext: plain backward and step, keeping the gradients it applied."""

    def __init__(self, recipe: DRNRecipe) -> None:
        self.recipe, self.iteration, self.device = recipe, 0, torch.device("cpu")
        self.grads: dict[str, torch.Tensor] = {}

    def net(self, name: str) -> torch.nn.Module:
        return self.recipe.nets[name]

    def autocast(self):
        return nullcontext()

    def backward_and_step(self, loss: torch.Tensor, optimizer: str) -> None:
        opt = self.recipe.optimizers[optimizer]
        opt.zero_grad()
        loss.backward()
        self.grads = {n: p.grad.clone() for n, p in self.recipe.nets["generator"].named_parameters()
                      if p.grad is not None}
        opt.step()


def make_recipe(scale: int = 4, **options) -> DRNRecipe:
    torch.manual_seed(0)
    config = DRNConfig(scale=scale, n_feats=4, n_blocks=1, patch_size=LR_SIZE * scale, **options)
    return DRNRecipe(config, torch.device("cpu"))


def make_batch(scale: int = 4, size: int = 2, unpaired: bool = False) -> Batch:
    hr = torch.rand(size, 3, LR_SIZE * scale, LR_SIZE * scale)
    lr = torch.nn.functional.avg_pool2d(hr, scale)
    extra = {"unpaired_lr": torch.rand(size, 3, LR_SIZE, LR_SIZE)} if unpaired else {}
    return Batch(lr=lr, hr=hr, extra=extra)


def snapshot(recipe: DRNRecipe) -> dict[str, torch.Tensor]:
    return {f"{net}.{k}": v.detach().clone() for net in ("generator", "dual")
            for k, v in recipe.nets[net].state_dict().items()}


@pytest.mark.parametrize("scale", [4, 8])
def test_paired_step_trains_primal_and_dual_models(scale: int) -> None:
    recipe = make_recipe(scale)
    before = snapshot(recipe)
    losses = recipe.train_step(make_batch(scale), RecordingContext(recipe))

    assert set(losses) == {"primal", "dual", "total"}
    torch.testing.assert_close(losses["total"], losses["primal"] + 0.1 * losses["dual"])
    after = snapshot(recipe)
    assert not torch.equal(before["generator.head.weight"], after["generator.head.weight"])
    dual_key = "dual.0.dual_module.1.weight"
    assert not torch.equal(before[dual_key], after[dual_key])


def test_unpaired_step_updates_the_generator_through_the_dual_loss_alone() -> None:
    recipe = make_recipe(unpaired="lr_only", unpaired_ratio=1.0, dual_weight=0.1)
    generator, duals = copy.deepcopy(recipe.nets["generator"]), copy.deepcopy(recipe.nets["dual"])
    batch = make_batch(unpaired=True)
    ctx = RecordingContext(recipe)
    losses = recipe.train_step(batch, ctx)

    assert "primal" not in losses
    # The closed loop by hand: dual[0] back to the LR input, dual[k] back to level k's output.
    lr = batch.extra["unpaired_lr"]
    levels = generator(lr, all_levels=True)
    back = duals(levels)
    dual = sum(torch.nn.functional.l1_loss(b, lr if k == 0 else levels[k].detach())
               for k, b in enumerate(back))
    (0.1 * dual).backward()
    assert ctx.grads["head.weight"].abs().sum() > 0
    for name, param in generator.named_parameters():
        if param.grad is not None:
            torch.testing.assert_close(ctx.grads[name], param.grad, msg=name)
    torch.testing.assert_close(losses["dual"], dual.detach())


def test_unpaired_samples_ignore_the_hr_of_the_batch() -> None:
    grads = []
    for seed in (1, 2):
        recipe = make_recipe(unpaired="lr_only", unpaired_ratio=1.0)
        batch = make_batch(unpaired=True)
        batch.extra["unpaired_lr"] = torch.full_like(batch.extra["unpaired_lr"], 0.4)
        batch.hr = torch.rand(batch.hr.shape, generator=torch.Generator().manual_seed(seed))
        ctx = RecordingContext(recipe)
        recipe.train_step(batch, ctx)
        grads.append(ctx.grads["head.weight"])
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize(("size", "ratio", "paired"), [(10, 0.3, 7), (4, 0.5, 2), (4, 0.0, 4)])
def test_batch_mixes_paired_and_lr_only_samples_by_ratio(size: int, ratio: float,
                                                         paired: int) -> None:
    recipe = make_recipe(unpaired="lr_only", unpaired_ratio=ratio)
    lr, hr, lr_only = recipe.split_batch(make_batch(size=size, unpaired=True))
    assert (lr.shape[0], hr.shape[0], lr_only.shape[0]) == (paired, paired, size - paired)


def test_mixed_step_reports_both_losses() -> None:
    recipe = make_recipe(unpaired="lr_only", unpaired_ratio=0.5)
    losses = recipe.train_step(make_batch(size=4, unpaired=True), RecordingContext(recipe))
    assert set(losses) == {"primal", "dual", "total"}
    assert all(torch.isfinite(v) for v in losses.values())


def test_paired_targets_are_the_lr_the_downscaled_hr_and_the_hr() -> None:
    recipe = make_recipe(scale=8)
    batch = make_batch(scale=8)
    targets = recipe.paired_targets(batch.lr, batch.hr)
    assert [t.shape[-1] for t in targets] == [LR_SIZE, 2 * LR_SIZE, 4 * LR_SIZE, 8 * LR_SIZE]
    assert targets[0] is batch.lr and targets[-1] is batch.hr


def test_missing_unpaired_stream_is_a_one_line_error() -> None:
    recipe = make_recipe(unpaired="lr_only")
    with pytest.raises(SrkitError, match="unpaired_lr"):
        recipe.train_step(make_batch(), RecordingContext(recipe))


def test_dual_models_are_exported_only_when_asked() -> None:
    assert set(make_recipe().export_extras()) == {"dual"}
    assert make_recipe(save_dual=False).export_extras() == {}


def test_init_weights_bring_their_dual_models(tmp_path) -> None:
    generator = build_generator("drn-s", scale=4, n_feats=4, n_blocks=1)
    duals = DualModels(4, 4)
    torch.nn.init.constant_(duals[1].dual_module[1].weight, 0.25)
    save_weights(generator, tmp_path / "w.safetensors", extras={"dual": duals})
    recipe = make_recipe(init=str(tmp_path / "w.safetensors"))
    assert torch.equal(recipe.nets["dual"].state_dict()["1.dual_module.1.weight"],
                       duals.state_dict()["1.dual_module.1.weight"])


def test_lr_only_folder_gives_lr_crops_of_any_image_size(tmp_path) -> None:
    Image.new("RGB", (37, 21), (10, 200, 30)).save(tmp_path / "a.png")
    Image.new("RGB", (12, 50), (90, 20, 30)).save(tmp_path / "b.png")
    recipe = make_recipe(unpaired=str(tmp_path))
    crops = recipe.extra_datasets()["unpaired_lr"]
    assert len(crops) == 2 and crops[0].shape == (3, LR_SIZE, LR_SIZE)


def test_bad_ratio_is_a_one_line_error() -> None:
    with pytest.raises(SrkitError, match="unpaired_ratio"):
        make_recipe(unpaired_ratio=1.5)


@pytest.mark.parametrize("scale", [4, 8])
def test_chained_unpaired_loss_brings_every_level_back_to_the_input(scale: int) -> None:
    recipe = make_recipe(scale, unpaired="lr_only", unpaired_ratio=1.0,
                         unpaired_targets="chained")
    generator, duals = copy.deepcopy(recipe.nets["generator"]), copy.deepcopy(recipe.nets["dual"])
    batch = make_batch(scale, unpaired=True)
    ctx = RecordingContext(recipe)
    losses = recipe.train_step(batch, ctx)

    assert "primal" not in losses
    # By hand: level k+1 goes through dual[k], ..., dual[0] and is compared with the LR input.
    lr = batch.extra["unpaired_lr"]
    levels = generator(lr, all_levels=True)
    dual = 0.0
    for k in range(1, len(levels)):
        image = levels[k]
        for j in range(k - 1, -1, -1):
            image = duals[j](image * 255) / 255
        dual = dual + torch.nn.functional.l1_loss(image, lr)
    (0.1 * dual).backward()
    torch.testing.assert_close(losses["dual"], dual.detach())
    for name, param in generator.named_parameters():
        if param.grad is not None:
            torch.testing.assert_close(ctx.grads[name], param.grad, msg=name)


def test_chained_and_levels_readings_agree_on_paired_samples() -> None:
    batch = make_batch(size=3)
    results = []
    for reading in ("levels", "chained"):
        recipe = make_recipe(unpaired_targets=reading)
        results.append(recipe.train_step(batch, RecordingContext(recipe)))
    for name in ("primal", "dual", "total"):
        torch.testing.assert_close(results[0][name], results[1][name])


def test_chained_mixed_batch_weights_paired_and_lr_only_samples_by_count() -> None:
    recipe = make_recipe(unpaired="lr_only", unpaired_ratio=0.5, unpaired_targets="chained")
    batch = make_batch(size=4, unpaired=True)
    generator, duals = copy.deepcopy(recipe.nets["generator"]), copy.deepcopy(recipe.nets["dual"])
    losses = recipe.train_step(batch, RecordingContext(recipe))
    paired_lr, paired_hr, lr_only = batch.lr[:2], batch.hr[:2], batch.extra["unpaired_lr"][:2]
    with torch.no_grad():
        levels = generator(torch.cat([paired_lr, lr_only]), all_levels=True)
        targets = recipe.paired_targets(paired_lr, paired_hr)
        back = duals(levels)
        chain = duals[0](duals[1](levels[2][2:] * 255)) * 1 / 255
        l1 = torch.nn.functional.l1_loss
        expected = ((l1(back[0][:2], targets[0]) + l1(back[0][2:], lr_only)) / 2
                    + (l1(back[1][:2], targets[1]) + l1(chain, lr_only)) / 2)
    torch.testing.assert_close(losses["dual"], expected)
