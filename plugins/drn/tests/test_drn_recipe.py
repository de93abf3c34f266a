"""The drn recipe: paired dual regression, and LR-only samples trained by the closed loop alone."""

from __future__ import annotations

import copy

import pytest
import torch
from PIL import Image

from srkit.api import Batch, SrkitError, build_generator, make_lr, save_weights
from srkit.testing import PlainStepContext, check_recipe_config, load_init_weights
from srkit_drn.arch import DualModels, n_levels
from srkit_drn.levels import level_key
from srkit_drn.recipe import DRNConfig, DRNRecipe

LR_SIZE = 8


class RecordingContext(PlainStepContext):
    """The plain step context, keeping the generator gradients it applied."""

    def backward_and_step(self, loss: torch.Tensor, optimizer: str) -> None:
        self.grads = {}
        loss.backward(retain_graph=True)
        self.grads = {n: p.grad.clone() for n, p in self.recipe.nets["generator"].named_parameters()
                      if p.grad is not None}
        self.dual_grads = {n: p.grad.clone() for n, p in self.recipe.nets["dual"].named_parameters()
                           if p.grad is not None}
        super().backward_and_step(loss, optimizer)


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


def flat_colour_batch(scale: int) -> Batch:
    """HR and LR of two flat colours: every level's target is that colour, whatever the
    downscaler, so the losses can be computed by hand. The colours are 8-bit levels, which the
    8-bit targets keep exactly."""
    colours = torch.tensor([[51, 128, 230], [179, 26, 102]]).div(255).view(2, 3, 1, 1)
    hr = colours.expand(2, 3, LR_SIZE * scale, LR_SIZE * scale).contiguous()
    return Batch(lr=colours.expand(2, 3, LR_SIZE, LR_SIZE).contiguous(), hr=hr)


@pytest.mark.parametrize("scale", [4, 8])
def test_paired_step_losses_match_a_hand_computation(scale: int) -> None:
    recipe = make_recipe(scale, dual_weight=0.3)
    generator, duals = copy.deepcopy(recipe.nets["generator"]), copy.deepcopy(recipe.nets["dual"])
    batch = flat_colour_batch(scale)
    losses = recipe.train_step(batch, RecordingContext(recipe))

    colour = batch.lr[:, :, :1, :1]
    with torch.no_grad():
        levels = generator(batch.lr, all_levels=True)
        back = duals(levels)
    # primal: every level against the flat colour; dual: dual[k](level k+1) against level k's target
    primal = sum((level - colour).abs().mean() for level in levels)
    dual = sum((b - colour).abs().mean() for b in back)
    assert len(levels) == n_levels(scale) + 1 and len(back) == n_levels(scale)
    torch.testing.assert_close(losses["primal"], primal)
    torch.testing.assert_close(losses["dual"], dual)
    torch.testing.assert_close(losses["total"], primal + 0.3 * dual)


@pytest.mark.parametrize("scale", [4, 8])
def test_paired_step_trains_primal_and_dual_models(scale: int) -> None:
    recipe = make_recipe(scale)
    before = snapshot(recipe)
    losses = recipe.train_step(make_batch(scale), RecordingContext(recipe))

    assert set(losses) == {"primal", "dual", "total"}
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
    # a flat image stays the same colour at every level, sample by sample and channel by channel
    flat = flat_colour_batch(8)
    for target in recipe.paired_targets(flat.lr, flat.hr):
        torch.testing.assert_close(target, flat.lr[:, :, :1, :1].expand_as(target))
    # without levels from the batch: 8-bit MATLAB bicubic, like the run's LR
    torch.testing.assert_close(targets[1], make_lr(batch.hr, 4))
    torch.testing.assert_close(targets[2], make_lr(batch.hr, 2))


def test_intermediate_targets_are_the_levels_the_batch_carries() -> None:
    recipe = make_recipe(scale=8)
    assert recipe.level_factors() == (4, 2)
    assert make_recipe(scale=2).level_factors() == ()
    batch = make_batch(scale=8)
    x4, x2 = torch.rand(2, 3, 2 * LR_SIZE, 2 * LR_SIZE), torch.rand(2, 3, 4 * LR_SIZE, 4 * LR_SIZE)
    targets = recipe.paired_targets(batch.lr, batch.hr, {4: x4, 2: x2})
    assert targets[1] is x4 and targets[2] is x2
    with pytest.raises(SrkitError, match=r"no LR level for factors \[2\]"):
        recipe.paired_targets(batch.lr, batch.hr, {4: x4})


def test_train_step_uses_the_paired_part_of_the_batch_levels() -> None:
    recipe = make_recipe(scale=4, unpaired="lr_only", unpaired_ratio=0.5)
    batch = make_batch(scale=4, size=4, unpaired=True)
    batch.extra[level_key(2)] = torch.rand(4, 3, 2 * LR_SIZE, 2 * LR_SIZE)
    seen = []
    original = recipe.paired_targets
    recipe.paired_targets = lambda lr, hr, levels=None: seen.append(levels) or original(lr, hr, levels)
    recipe.train_step(batch, RecordingContext(recipe))
    assert seen[0][2].shape[0] == 2
    assert torch.equal(seen[0][2], batch.extra[level_key(2)][:2])




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
    assert load_init_weights(tmp_path / "w.safetensors", recipe, "drn") == ["generator", "dual"]
    assert torch.equal(recipe.nets["dual"].state_dict()["1.dual_module.1.weight"],
                       duals.state_dict()["1.dual_module.1.weight"])


def test_lr_only_folder_gives_lr_crops_of_any_image_size(tmp_path) -> None:
    Image.new("RGB", (37, 21), (10, 200, 30)).save(tmp_path / "a.png")
    Image.new("RGB", (12, 50), (90, 20, 30)).save(tmp_path / "b.png")
    recipe = make_recipe(unpaired=str(tmp_path))
    crops = recipe.extra_datasets()["unpaired_lr"]
    assert len(crops) == 2 and crops[0].shape == (3, LR_SIZE, LR_SIZE)


def test_bad_ratio_is_rejected_by_config_validation() -> None:
    config = DRNConfig(scale=4, n_feats=4, n_blocks=1, patch_size=LR_SIZE * 4, unpaired_ratio=1.5)
    with pytest.raises(SrkitError, match=r"--unpaired-ratio must be in \[0, 1\], got 1.5"):
        check_recipe_config(config, DRNRecipe)


def test_scale_that_is_not_a_power_of_two_is_rejected_by_the_recipe_rules() -> None:
    config = DRNConfig(scale=3, n_feats=4, n_blocks=1, patch_size=48)
    with pytest.raises(SrkitError, match="power of two"):
        check_recipe_config(config, DRNRecipe)


def test_dual_models_that_do_not_fit_name_the_mismatch(tmp_path) -> None:
    generator = build_generator("drn-s", scale=4, n_feats=4, n_blocks=1)
    save_weights(generator, tmp_path / "w.safetensors", extras={"dual": DualModels(4, 8)})
    recipe = make_recipe()
    with pytest.raises(SrkitError) as info:
        load_init_weights(tmp_path / "w.safetensors", recipe, "drn")
    message = str(info.value)
    assert "'dual' module" in message and "size mismatch" in message and "\n" not in message


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


def test_lr_only_images_are_named_in_the_users_words() -> None:
    recipe = make_recipe(unpaired="lr_only", unpaired_ratio=0.3)
    assert recipe.describe_stream("unpaired_lr", 20) == "20 LR-only images (30% of each batch)"


def test_fine_tune_hint_never_points_at_the_run_being_written(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    from srkit.api import RunFolder

    default_out = str(RunFolder.default("drn", 4).root)
    notes = make_recipe(unpaired="lr_only", out=default_out).start_notes()
    assert f"--init {default_out}/model.safetensors" not in notes[0]
    assert "first train one on paired data" in notes[0] and "drn_x4_paired" in notes[0]
    finished = tmp_path / "runs" / "drn_x4" / "model.safetensors"
    finished.parent.mkdir(parents=True)
    finished.write_bytes(b"")
    notes = make_recipe(unpaired="lr_only", out=str(tmp_path / "elsewhere")).start_notes()
    assert f"add --init {RunFolder.default('drn', 4).model}" in notes[0]


def test_lr_only_images_too_small_for_the_crop_name_the_patch_size(tmp_path) -> None:
    folder = tmp_path / "lr_only"
    folder.mkdir()
    for index in range(2):
        Image.new("RGB", (6 + index, 9)).save(folder / f"{index}.png")
    with pytest.raises(SrkitError, match=r"every image is smaller than the 8x8 crop .*LR crops are "
                       r"--patch-size / --scale: pass --patch-size 24 or smaller"):
        make_recipe(unpaired=str(folder)).extra_datasets()


def mixed_step(dual_update: str, reading: str = "levels") -> tuple[DRNRecipe, RecordingContext,
                                                                   dict[str, torch.Tensor]]:
    """One step on 2 paired + 2 LR-only samples, from the same weights and batch every call."""
    recipe = make_recipe(unpaired="lr_only", unpaired_ratio=0.5, unpaired_targets=reading,
                         dual_update=dual_update)
    torch.manual_seed(5)
    batch = make_batch(size=4, unpaired=True)
    ctx = RecordingContext(recipe)
    return recipe, ctx, recipe.train_step(batch, ctx)


@pytest.mark.parametrize("reading", ["levels", "chained"])
def test_every_dual_update_gives_the_primal_network_the_same_gradient(reading: str) -> None:
    _, joint, joint_losses = mixed_step("joint", reading)
    for mode in ("paired", "frozen"):
        _, ctx, losses = mixed_step(mode, reading)
        for name in ("primal", "dual", "total"):
            torch.testing.assert_close(losses[name], joint_losses[name])
        assert ctx.grads.keys() == joint.grads.keys()
        for name, grad in joint.grads.items():
            torch.testing.assert_close(ctx.grads[name], grad, msg=f"{mode} {name}")


def test_frozen_dual_models_are_neither_optimised_nor_changed() -> None:
    recipe, ctx, _ = mixed_step("frozen")
    before = {k: v.clone() for k, v in make_recipe().nets["dual"].state_dict().items()}
    assert ctx.dual_grads == {}
    assert all(not p.requires_grad for p in recipe.nets["dual"].parameters())
    optimised = {id(p) for group in recipe.optimizers["generator"].param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in recipe.nets["dual"].parameters()}
    for name, value in recipe.nets["dual"].state_dict().items():
        torch.testing.assert_close(value, before[name], msg=name)


@pytest.mark.parametrize("reading", ["levels", "chained"])
def test_paired_dual_update_trains_the_duals_on_the_paired_terms_only(reading: str) -> None:
    recipe = make_recipe(unpaired="lr_only", unpaired_ratio=0.5, unpaired_targets=reading,
                         dual_update="paired")
    generator, duals = copy.deepcopy(recipe.nets["generator"]), copy.deepcopy(recipe.nets["dual"])
    _, ctx, _ = mixed_step("paired", reading)
    torch.manual_seed(5)
    batch = make_batch(size=4, unpaired=True)
    # By hand: the paired samples' dual terms, each averaged over all 4 samples (2 of them paired).
    levels = generator(torch.cat([batch.lr[:2], batch.extra["unpaired_lr"][:2]]), all_levels=True)
    targets = recipe.paired_targets(batch.lr[:2], batch.hr[:2])
    back = duals([level[:2] for level in levels])
    pairs = zip(back, targets[:-1], strict=True)
    paired_terms = sum(torch.nn.functional.l1_loss(b, t) * 2 / 4 for b, t in pairs)
    (0.1 * paired_terms).backward()
    for name, param in duals.named_parameters():
        torch.testing.assert_close(ctx.dual_grads[name], param.grad, msg=name)
    # ... whereas joint updates also see the LR-only terms
    _, joint, _ = mixed_step("joint", reading)
    assert not torch.allclose(joint.dual_grads["0.dual_module.0.0.weight"],
                              ctx.dual_grads["0.dual_module.0.0.weight"])


def test_unknown_dual_update_is_refused_in_one_line() -> None:
    config = DRNConfig(scale=4, n_feats=4, n_blocks=1, patch_size=LR_SIZE * 4, dual_update="half")
    with pytest.raises(SrkitError, match="--dual-update") as info:
        check_recipe_config(config, DRNRecipe)
    assert "\n" not in str(info.value)
