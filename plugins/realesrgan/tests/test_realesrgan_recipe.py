"""The realesrnet and realesrgan recipes: official defaults, one step computed by hand, the
perceptual loss against torchvision's VGG19, and ``--generator`` in the GAN recipes."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch.nn import functional as F
from torchvision.models import vgg19

from srkit import testing as srkit_testing
from srkit.api import Batch, SrkitError, lookup
from srkit.testing import PlainStepContext, check_recipe_config
from srkit_realesrgan.losses import PerceptualLoss, parse_layer_weights
from srkit_realistic.sharpen import unsharp_mask

#: xinntao/Real-ESRGAN options/train_realesrnet_x4plus.yml, as srkit options
OFFICIAL_REALESRNET = {
    "channels": 64, "blocks": 23, "growth": 32,            # network_g num_feat, num_block, num_grow_ch
    "learning_rate": 2e-4,                                  # optim_g.lr
    "learning_rate_schedule": "multistep",                  # scheduler MultiStepLR
    "learning_rate_milestones": "1000000", "learning_rate_gamma": 0.5,
    "iters": 1_000_000,                                     # total_iter
    "ema": 0.999,                                           # ema_decay
    "sharpen_targets": True,                                # gt_usm
    "patch_size": 256, "batch_size": 12,                    # gt_size, batch_size_per_gpu
}
#: xinntao/Real-ESRGAN options/train_realesrgan_x4plus.yml, as srkit options
OFFICIAL_REALESRGAN = {
    "channels": 64, "blocks": 23, "growth": 32,
    "d_channels": 64, "d_skip": True,                       # network_d num_feat, skip_connection
    "learning_rate": 1e-4, "discriminator_learning_rate": 1e-4,
    "learning_rate_schedule": "multistep", "learning_rate_milestones": "400000",
    "learning_rate_gamma": 0.5, "iters": 400_000, "ema": 0.999,
    "sharpen_targets": True, "sharpen_gan_targets": False,  # l1_gt_usm, percep_gt_usm; gan_gt_usm
    "pixel_weight": 1.0, "perceptual_weight": 1.0, "gan_weight": 0.1, "gan_type": "bce",  # vanilla
    "content_loss": "vgg",
    "patch_size": 256, "batch_size": 12,
}
OFFICIAL_LAYERS = {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}

TINY = dict(scale=4, channels=8, blocks=1, growth=4, d_channels=8, batch_size=2, patch_size=32)


def make_recipe(name: str, **overrides):  # noqa: ANN201
    fields = {f.name for f in dataclasses.fields(lookup("recipe", name).config_class)}
    return srkit_testing.make_recipe(name, **{**{k: v for k, v in TINY.items() if k in fields}, **overrides})


def batch(seed: int = 0) -> Batch:
    hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    return Batch(lr=F.avg_pool2d(hr, 4), hr=hr)


def snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize(("recipe", "official"), [("realesrnet", OFFICIAL_REALESRNET),
                                                  ("realesrgan", OFFICIAL_REALESRGAN)])
def test_defaults_are_the_official_training_options(recipe: str, official: dict) -> None:
    config = lookup("recipe", recipe).config_class()
    assert {name: getattr(config, name) for name in official} == official
    assert config.generator == "rrdbnet" and config.scale == 4
    assert config.degradation == "realistic:order=2,sinc=true,sharpen=true"
    if recipe == "realesrgan":
        assert parse_layer_weights(config.perceptual_layers) == OFFICIAL_LAYERS


def test_both_recipes_use_adam_with_the_official_betas() -> None:
    for recipe in (make_recipe("realesrnet"), make_recipe("realesrgan", content_loss="l1")):
        assert all(opt.defaults["betas"] == (0.9, 0.99) for opt in recipe.optimizers.values())


def test_realesrnet_step_is_l1_against_the_sharpened_hr() -> None:
    recipe = make_recipe("realesrnet")
    g = copy.deepcopy(recipe.nets["generator"]).train()
    data = batch(1)
    logs = recipe.train_step(data, PlainStepContext(recipe))
    with torch.no_grad():
        expected = (g(data.lr) - unsharp_mask(data.hr)).abs().mean()
    torch.testing.assert_close(logs["l1"], expected)


def test_gan_step_losses_match_a_hand_computation(vgg19_file) -> None:  # noqa: ANN001
    """G: L1 and perceptual on the sharpened HR + 0.1 x -log D(G(lr)) averaged over D's logit map;
    D: -log D(hr) on the plain HR and -log(1 - D(sr)), with D as before its update."""
    recipe = make_recipe("realesrgan", vgg_weights=str(vgg19_file))
    g, d = (copy.deepcopy(recipe.nets[n]).train() for n in ("generator", "discriminator"))
    data = batch(2)
    before_d = snapshot(recipe.nets["discriminator"])
    logs = recipe.train_step(data, PlainStepContext(recipe))

    d.load_state_dict(before_d)  # D's spectral-norm vectors as they were when G's step began
    with torch.no_grad():
        sr, sharp = g(data.lr), unsharp_mask(data.hr)
        l1 = (sr - sharp).abs().mean()
        perceptual = recipe.perceptual(sr, sharp)
        gan = F.softplus(-d(sr)).mean()
    torch.testing.assert_close(logs["l1"], l1)
    torch.testing.assert_close(logs["perceptual"], perceptual)
    torch.testing.assert_close(logs["gan"], gan, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logs["g_total"], l1 + perceptual + 0.1 * gan, rtol=1e-4, atol=1e-5)
    assert all(torch.isfinite(v) for v in logs.values())


def test_gan_step_trains_g_and_d_and_leaves_vgg_frozen(vgg19_file) -> None:  # noqa: ANN001
    recipe = make_recipe("realesrgan", vgg_weights=str(vgg19_file))
    g, d, vgg = recipe.nets["generator"], recipe.nets["discriminator"], recipe.perceptual.vgg.features
    before = [snapshot(m) for m in (g, d, vgg)]
    recipe.train_step(batch(), PlainStepContext(recipe))
    after = [snapshot(m) for m in (g, d, vgg)]
    changed = [any(not torch.equal(b[k], a[k]) for k in b) for b, a in zip(before, after, strict=True)]
    assert changed == [True, True, False]
    assert all(p.requires_grad for p in d.parameters())


def test_perceptual_loss_is_the_weighted_l1_of_torchvision_vgg19_features(vgg19_file) -> None:  # noqa: ANN001
    loss = PerceptualLoss(OFFICIAL_LAYERS, vgg19_file)
    reference = vgg19(weights=None).features.eval()
    reference.load_state_dict({k.removeprefix("features."): v
                               for k, v in torch.load(vgg19_file, weights_only=True).items()})
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    sr, hr = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    # conv1_2, conv2_2, conv3_4, conv4_4, conv5_4: indices 2, 7, 16, 25, 34 of vgg19().features
    taps = {2: 0.1, 7: 0.1, 16: 1.0, 25: 1.0, 34: 1.0}
    expected = torch.zeros(())
    x, y = (sr - mean) / std, (hr - mean) / std
    with torch.no_grad():
        for index, layer in enumerate(reference[:35]):
            x, y = layer(x.clone()), layer(y.clone())
            if index in taps:
                expected = expected + taps[index] * (x - y).abs().mean()
        torch.testing.assert_close(loss(sr, hr), expected, rtol=1e-4, atol=1e-6)


def test_missing_vgg_weights_stop_the_recipe_saying_how_to_go_without(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(SrkitError, match="--vgg-weights FILE, or train without the perceptual term with "
                                         "--content-loss l1$"):
        make_recipe("realesrgan")
    assert make_recipe("realesrgan", content_loss="l1").perceptual is None


def test_a_patch_the_discriminator_cannot_judge_is_refused_before_training() -> None:
    recipe_class = lookup("recipe", "realesrgan")
    with pytest.raises(SrkitError, match="--patch-size 60: the U-Net discriminator needs a multiple of 8"):
        check_recipe_config(recipe_class.config_class(patch_size=60), recipe_class)


@pytest.mark.parametrize("text", ["conv5_4", "conv9_9=1", ""])
def test_bad_perceptual_layers_are_one_line_errors(text: str) -> None:
    with pytest.raises(SrkitError) as info:
        parse_layer_weights(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("recipe", "arch", "own"), [
    ("srgan", "rrdbnet:channels=8,blocks=1,growth=4", "srresnet"),
    ("realesrgan", "srresnet:channels=8,blocks=1", "rrdbnet"),
])
def test_gan_recipes_train_another_registered_generator(recipe: str, arch: str, own: str) -> None:
    options = {"content_loss": "mse" if recipe == "srgan" else "l1", "generator": arch}
    if recipe == "srgan":
        options["pretrain_iters"] = 0
    built = make_recipe(recipe, **options)
    generator = built.nets["generator"]
    name, _, given = arch.partition(":")
    assert generator.srkit_arch == name != own and generator.scale == 4
    assert {k: str(v) for k, v in generator.srkit_kwargs.items() if f"{k}=" in given} == \
        dict(item.split("=") for item in given.split(","))
    before = snapshot(generator)
    for step in range(2):
        logs = built.train_step(batch(step), PlainStepContext(built, iteration=step))
        assert all(torch.isfinite(v) for v in logs.values())
    assert any(not torch.equal(before[k], v) for k, v in generator.state_dict().items())


@pytest.mark.parametrize(("generator", "message"), [
    ("esrgan-xl", "unknown generator 'esrgan-xl'; installed: .*rrdbnet"),
    ("srresnet:width=8", "'width=8' is not KEY=VALUE of its options .*channels"),
    ("srresnet:channels=many", "channels must be int, got 'many'"),
])
def test_a_bad_generator_is_a_one_line_error(generator: str, message: str) -> None:
    with pytest.raises(SrkitError, match=message) as info:
        make_recipe("realesrgan", content_loss="l1", generator=generator)
    assert "\n" not in str(info.value)
