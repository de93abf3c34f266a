"""Each built-in recipe's defaults are its paper's (or official code's) training recipe.

The expected numbers are written here from the sources, not read back from the config classes:
SRGAN/SRResNet from Ledig et al. 2017 (sec. 3.2), DRN from the official code's ``option.py``
(guoyongcs/DRN) and its per-scale templates.
"""

from __future__ import annotations

import pytest

from srkit.plugins import lookup


def _defaults(recipe: str, **given):  # noqa: ANN202
    return lookup("recipe", recipe).config_class(**given)


def test_srresnet_defaults_are_the_papers_mse_recipe() -> None:
    config = _defaults("srresnet")
    assert (config.batch_size, config.patch_size, config.learning_rate, config.iters) == (16, 96, 1e-4, 10**6)
    assert config.loss == "mse" and config.learning_rate_schedule == "constant"
    assert (config.channels, config.blocks, config.scale) == (64, 16, 4)


def test_srgan_defaults_are_the_papers_recipe() -> None:
    config = _defaults("srgan")
    assert config.content_loss == "vgg" and config.vgg_layer == "relu5_4" and config.vgg_rescale
    assert config.adv_weight == 1e-3 and config.content_weight == 1.0 and config.gan_type == "bce"
    assert (config.batch_size, config.patch_size) == (16, 96)
    assert (config.learning_rate, config.discriminator_learning_rate) == (1e-4, 1e-4)
    # 10^6 SRResNet-MSE iterations, then 10^5 at 1e-4 and 10^5 at 1e-5
    assert (config.pretrain_iters, config.iters) == (10**6, 10**6 + 2 * 10**5)
    assert (config.learning_rate_schedule, config.learning_rate_gamma,
            config.learning_rate_milestones) == ("multistep", 0.1, "")


def test_srgan_from_trained_srresnet_runs_only_the_gan_phase() -> None:
    config = _defaults("srgan", init="srresnet.safetensors")
    assert (config.pretrain_iters, config.iters) == (0, 2 * 10**5)


def test_srgan_uses_adam_beta1_09() -> None:
    import torch

    config = _defaults("srgan", channels=4, blocks=1, d_channels=4, content_loss="mse",
                       iters=2, pretrain_iters=1)
    recipe = lookup("recipe", "srgan")(config, torch.device("cpu"))
    for optimizer in recipe.optimizers.values():
        assert optimizer.param_groups[0]["betas"][0] == 0.9


@pytest.mark.parametrize("scale, variant, n_feats, n_blocks", [
    (4, "s", 16, 30), (8, "s", 8, 30), (4, "l", 20, 40), (8, "l", 10, 36),
])
def test_drn_defaults_are_the_official_code_per_scale(scale: int, variant: str, n_feats: int,
                                                      n_blocks: int) -> None:
    config = _defaults("drn", scale=scale, variant=variant)
    assert (config.n_feats, config.n_blocks) == (n_feats, n_blocks)
    # batch 32, "output patch size" 384 (LR 96 at x4, 48 at x8), 1000 epochs x 1000 iterations
    assert (config.batch_size, config.patch_size, config.iters) == (32, 384, 10**6)
    assert (config.learning_rate, config.learning_rate_schedule, config.learning_rate_min,
            config.dual_weight) == (1e-4, "cosine", 1e-7, 0.1)


def test_drn_adam_matches_the_official_settings() -> None:
    import torch

    config = _defaults("drn", n_feats=4, n_blocks=1, patch_size=32)
    optimizer = lookup("recipe", "drn")(config, torch.device("cpu")).optimizers["generator"]
    group = optimizer.param_groups[0]
    assert (group["betas"], group["eps"], group["weight_decay"]) == ((0.9, 0.999), 1e-8, 0)
