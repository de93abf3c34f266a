from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch.nn import functional as F

from srkit import testing as srkit_testing
from srkit.api import Batch, SrkitError, lookup
from srkit.testing import PlainStepContext, check_recipe_config

TINY = dict(scale=2, channels=8, blocks=2, d_channels=8, patch_size=32, batch_size=2)


def make_recipe(name: str, **overrides):
    fields = {f.name for f in dataclasses.fields(lookup("recipe", name).config_class)}
    return srkit_testing.make_recipe(name, **{**{k: v for k, v in TINY.items() if k in fields},
                                             **overrides})


def batch(seed: int = 0) -> Batch:
    hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    return Batch(lr=lr, hr=hr)


def snapshot(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def changed(before, net) -> bool:
    return any(not torch.equal(before[k], v) for k, v in net.state_dict().items()
               if v.is_floating_point())


def test_one_srgan_step_updates_g_and_d_and_leaves_vgg_frozen(vgg19_file):
    recipe = make_recipe("srgan", iters=10, pretrain_iters=5, vgg_weights=str(vgg19_file),
                         vgg_layer="relu2_2")
    g, d = recipe.nets["generator"], recipe.nets["discriminator"]
    g.train(), d.train(), recipe.content_loss.train()
    before_g, before_d = snapshot(g), snapshot(d)
    before_vgg = snapshot(recipe.content_loss.vgg.features)

    logs = recipe.train_step(batch(), PlainStepContext(recipe, iteration=5))

    assert recipe.phase(5) == "gan"
    assert set(logs) == {"content", "adv", "g_total", "d_real_loss", "d_fake_loss", "d_real", "d_fake"}
    assert all(torch.isfinite(v) and not v.requires_grad for v in logs.values())
    assert 0 <= logs["d_real"] <= 1 and 0 <= logs["d_fake"] <= 1
    torch.testing.assert_close(logs["g_total"], logs["content"] + 1e-3 * logs["adv"])
    assert changed(before_g, g) and changed(before_d, d)
    vgg = recipe.content_loss.vgg.features
    assert not changed(before_vgg, vgg) and not vgg.training
    assert all(p.grad is None and not p.requires_grad for p in vgg.parameters())
    assert all(p.requires_grad for p in d.parameters())  # D is trainable again after G's update


def test_gan_step_losses_match_a_hand_computation():
    """MSE content + 0.01 x -log D(G(lr)) for G; -log D(hr) and -log(1 - D(G(lr))) for D, with
    D as it was before its update and the SR of the same step."""
    recipe = make_recipe("srgan", iters=10, pretrain_iters=0, content_loss="mse", adv_weight=0.01)
    g, d = (copy.deepcopy(recipe.nets[name]).train() for name in ("generator", "discriminator"))
    data = batch(seed=3)
    logs = recipe.train_step(data, PlainStepContext(recipe, iteration=0))
    with torch.no_grad():
        sr = g(data.lr)
        content = ((sr - data.hr) ** 2).mean()
        adv = F.softplus(-d(sr)).mean()  # -log sigmoid(logit)
        d_real, d_fake = F.softplus(-d(data.hr)).mean(), F.softplus(d(sr)).mean()
    torch.testing.assert_close(logs["content"], content)
    torch.testing.assert_close(logs["adv"], adv)
    torch.testing.assert_close(logs["g_total"], content + 0.01 * adv)
    torch.testing.assert_close(logs["d_real_loss"], d_real)
    torch.testing.assert_close(logs["d_fake_loss"], d_fake)


def test_pretrain_step_is_the_mse_of_the_generator_before_its_update():
    recipe = make_recipe("srgan", iters=10, pretrain_iters=5, content_loss="mse")
    g = copy.deepcopy(recipe.nets["generator"]).train()
    data = batch(seed=4)
    logs = recipe.train_step(data, PlainStepContext(recipe, iteration=0))
    with torch.no_grad():
        expected = ((g(data.lr) - data.hr) ** 2).mean()
    torch.testing.assert_close(logs["content"], expected)
    torch.testing.assert_close(logs["g_total"], expected)


def test_pretrain_step_trains_only_the_generator_with_mse():
    recipe = make_recipe("srgan", iters=10, pretrain_iters=5, content_loss="mse")
    g, d = recipe.nets["generator"], recipe.nets["discriminator"]
    before_g, before_d = snapshot(g), snapshot(d)
    logs = recipe.train_step(batch(), PlainStepContext(recipe, iteration=0))
    assert recipe.phase(0) == "pretrain" and recipe.phase(4) == "pretrain"
    assert set(logs) == {"content", "g_total"}
    assert changed(before_g, g) and not changed(before_d, d)


@pytest.mark.parametrize("gan_type", ["ragan", "lsgan"])
def test_gan_variants_train_with_mse_content(gan_type):
    recipe = make_recipe("srgan", iters=4, pretrain_iters=0, content_loss="mse", gan_type=gan_type,
                         adv_weight=0.5, patch_size=40)  # 40 is no multiple of 16: pooled head
    assert recipe.nets["discriminator"].crop_size is None
    logs = recipe.train_step(_batch_of(40), PlainStepContext(recipe, iteration=0))
    assert all(torch.isfinite(v) for v in logs.values())
    torch.testing.assert_close(logs["g_total"], logs["content"] + 0.5 * logs["adv"])


def _batch_of(size: int) -> Batch:
    hr = torch.rand(2, 3, size, size)
    return Batch(lr=torch.nn.functional.avg_pool2d(hr, 2), hr=hr)


def test_missing_vgg_weights_stop_the_recipe_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(SrkitError, match="--content-loss mse"):
        make_recipe("srgan")


def test_gan_phase_learning_rate_drops_tenfold_halfway():
    recipe = make_recipe("srgan", iters=100, pretrain_iters=40, content_loss="mse",
                         learning_rate=1e-4, discriminator_learning_rate=2e-4)
    for name, base in (("generator", 1e-4), ("discriminator", 2e-4)):
        optimizer, scheduler = recipe.optimizers[name], recipe.schedulers[name]
        lrs = [optimizer.param_groups[0]["lr"]]
        for _ in range(70):
            optimizer.step()
            scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        assert lrs[0] == lrs[40] == lrs[69] == base
        assert lrs[70] == pytest.approx(0.1 * base)
        assert optimizer.param_groups[0]["initial_lr"] == base
        assert recipe.optimizers[name].defaults["betas"][0] == 0.9


def test_bad_options_are_one_line_errors_of_config_validation():
    recipe_class = lookup("recipe", "srgan")
    with pytest.raises(SrkitError, match="--content-loss must be one of vgg, mse"):
        check_recipe_config(recipe_class.config_class(content_loss="lpips"), recipe_class)
    with pytest.raises(SrkitError, match="--pretrain-iters 20 must not exceed --iters 10"):
        check_recipe_config(recipe_class.config_class(iters=10, pretrain_iters=20), recipe_class)


def test_srresnet_recipe_trains_with_mse_by_default():
    recipe = make_recipe("srresnet", iters=3)
    assert recipe.config.loss == "mse"
    g = recipe.nets["generator"]
    assert g.srkit_kwargs == {"scale": 2, "channels": 8, "blocks": 2}
    before = snapshot(g)
    logs = recipe.train_step(batch(), PlainStepContext(recipe, iteration=0))
    assert torch.isfinite(logs["pixel"]) and changed(before, g)


def test_pretraining_takes_the_papers_share_of_the_run_unless_given():
    # the paper: 10^6 SRResNet-MSE iterations, then 2*10^5 GAN iterations, i.e. 5/6 pretraining
    recipe = make_recipe("srgan", iters=24, content_loss="mse")
    assert recipe.phase(19) == "pretrain" and recipe.phase(20) == "gan"
    recipe = make_recipe("srgan", iters=20, pretrain_iters=0, content_loss="mse")
    assert recipe.phase(0) == "gan"
