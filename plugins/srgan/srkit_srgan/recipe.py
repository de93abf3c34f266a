"""Training recipes: ``srresnet`` (SRResNet-MSE) and ``srgan`` (SRResNet pretraining, then GAN).

Both use the shared trainer; a recipe only says which nets, optimizers and losses a step uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from srkit.api import (
    Batch,
    Derived,
    PixelConfig,
    PixelRecipe,
    Recipe,
    SrkitError,
    StepContext,
    TrainConfig,
    build_discriminator,
    make_scheduler,
    option,
    pixel_step,
)
from srkit_srgan.generator_choice import (
    build_chosen_generator,
    generator_kwargs_option_default,
    generator_option_default,
)
from srkit_srgan.losses import GAN_TYPES, AdversarialLoss, VGGLoss

CONTENT_LOSSES = ("vgg", "mse")


#: the paper's SRResNet-MSE training: 10^6 iterations at learning rate 1e-4 (Ledig et al. 2017, sec. 3.2)
PAPER_SRRESNET_ITERS = 1_000_000
#: the paper's SRGAN phase: 10^5 iterations at learning rate 1e-4, then 10^5 at 1e-5
PAPER_GAN_ITERS = 200_000


@dataclass
class SRResNetConfig(PixelConfig):
    """The paper's SRResNet-MSE recipe: batch 16, 96x96 HR crops, Adam learning rate 1e-4, 10^6 iterations."""

    defaults = {"iters": PAPER_SRRESNET_ITERS, "batch_size": 16, "patch_size": 96, "learning_rate": 1e-4,
                "loss": "mse", "learning_rate_schedule": "constant", "val_every": 5000, "save_every": 5000}
    presets = {
        "quick": ("minutes on a CPU (docs/results.md): 32 channels x 4 blocks, L1, learning rate 1e-3 "
                  "cosine to 1e-5, batch 16, 64x64 crops, 2000 iterations", {
                      "iters": 2000, "channels": 32, "blocks": 4, "loss": "l1", "learning_rate": 1e-3,
                      "learning_rate_schedule": "cosine", "learning_rate_min": 1e-5, "patch_size": 64,
                      "val_every": 500, "save_every": 500, "log_every": 50, "workers": 1}),
    }

    channels: int = option(64, "generator feature width", min=1)
    blocks: int = option(16, "generator residual blocks", min=1)


class SRResNetRecipe(PixelRecipe):
    """SRResNet trained with a pixel loss (MSE by default), the first phase of SRGAN."""

    config_class: ClassVar[type[TrainConfig]] = SRResNetConfig
    description: ClassVar[str] = "SRResNet (Ledig et al. 2017) with MSE: the PSNR-oriented model"
    arch: ClassVar[str] = "srresnet"
    config: SRResNetConfig

    def generator_kwargs(self) -> dict[str, Any]:
        return {"scale": self.config.scale, "channels": self.config.channels,
                "blocks": self.config.blocks}


def _default_pretrain_iters(config: Any) -> int:
    """0 with --init; the paper's 10^6, or its share (5/6) of an --iters given."""
    if config.init:
        return 0
    if config.given("iters"):
        return config.iters * PAPER_SRRESNET_ITERS // (PAPER_SRRESNET_ITERS + PAPER_GAN_ITERS)
    return PAPER_SRRESNET_ITERS


#: preset values that follow the user's --iters: a pretraining phase, validation and checkpoint at its end
_HALF_OF_ITERS = Derived(lambda c: max(1, c.iters // 2), "half of --iters")


@dataclass
class SRGANConfig(TrainConfig):
    """The paper's SRGAN recipe (Ledig et al. 2017): SRResNet-MSE for 10^6 iterations (or
    ``--init`` trained weights), then 2*10^5 GAN iterations, learning rate 1e-4 then 1e-5, batch 16, 96x96,
    VGG54 content loss on features scaled by 1/12.75, adversarial weight 1e-3, Adam beta1 0.9."""

    defaults = {
        "iters": Derived(lambda c: c.pretrain_iters + PAPER_GAN_ITERS,
                         "pretrain_iters + 200000 (the paper's GAN phase)"),
        "batch_size": 16, "patch_size": 96, "learning_rate": 1e-4, "val_every": 5000, "save_every": 5000,
    }
    presets = {
        "quick": ("both phases once (not a trained model): 60 iterations, half of --iters "
                  "pretraining, batch 4; about a minute on an idle 2-core CPU, far longer on a busy one "
                  "(docs/training.md)", {
                      "iters": 60, "pretrain_iters": _HALF_OF_ITERS, "batch_size": 4,
                      "val_every": _HALF_OF_ITERS, "save_every": _HALF_OF_ITERS, "log_every": 10}),
    }

    learning_rate_schedule: str = option(
        "multistep", "schedule of the GAN phase: constant, multistep (x --learning-rate-gamma "
        "halfway) or cosine")
    pretrain_iters: int = option(
        Derived(_default_pretrain_iters,
                "1000000 (the paper's); 5/6 of --iters when it is given; 0 with --init"),
        "iterations of SRResNet-MSE pretraining before the GAN phase", min=0
    )
    generator: str = option(
        generator_option_default("srresnet"),
        "generator to train: any registered one, NAME or NAME:key=value,... (srresnet, "
        "rrdbnet:channels=32,blocks=4, spandrel with --init FILE...)")
    generator_kwargs: str = option(
        generator_kwargs_option_default(),
        "the generator's arguments as JSON; set from the --init file, so --resume rebuilds it")
    channels: int = option(64, "SRResNet feature width", min=1)
    blocks: int = option(16, "SRResNet residual blocks", min=1)
    d_channels: int = option(64, "discriminator width of its first conv", min=1)
    discriminator_learning_rate: float = option(1e-4, "discriminator learning rate", min=0,
                                                min_exclusive=True, max=1, renamed_from=("d_lr",))
    content_loss: str = option(
        "vgg", "GAN-phase content loss: vgg (needs the VGG19 ImageNet file: --vgg-weights or the "
        "torch hub cache) or mse (needs no file)", choices=CONTENT_LOSSES)
    content_weight: float = option(1.0, "weight of the content loss", min=0)
    adv_weight: float = option(1e-3, "weight of the adversarial loss", min=0)
    gan_type: str = option("bce", "adversarial loss: bce (the paper), ragan or lsgan", choices=GAN_TYPES)
    vgg_layer: str = option(
        "relu5_4", "VGG19 layer compared: relu5_4 (VGG54), relu2_2 (VGG22), conv5_4 (before activation)"
    )
    vgg_weights: str | None = option(
        None, "VGG19 ImageNet weights file (default: torchvision's file in the torch hub cache)",
        path="file")
    vgg_rescale: bool = option(True, "scale VGG features by 1/12.75 as in the paper")


def _discriminator_crop(patch_size: int) -> int | None:
    """The paper's fixed dense head when the crop allows it, size-agnostic pooling otherwise."""
    return patch_size if patch_size % 16 == 0 else None


class SRGANRecipe(Recipe):
    """SRGAN: ``pretrain_iters`` of SRResNet-MSE, then alternating G and D updates.

    G minimises ``content_weight * content + adv_weight * adversarial``; D minimises BCE on real
    plus BCE on fake (or the ``gan_type`` variant). Both use Adam(beta1=0.9); the GAN phase runs
    ``learning_rate_schedule`` from its first iteration (by default the learning rate x 0.1
    halfway, the paper's 1e-4 -> 1e-5).
    """

    config: SRGANConfig
    config_class: ClassVar[type[TrainConfig]] = SRGANConfig
    description: ClassVar[str] = "SRGAN (Ledig et al. 2017): SRResNet-MSE pretraining, then VGG54 + GAN"
    #: the VGG content loss needs the VGG19 ImageNet file; MSE trains without it
    first_run_args: ClassVar[tuple[str, ...]] = ("--content-loss", "mse")

    def __init__(self, config: SRGANConfig, device: torch.device) -> None:
        super().__init__(config, device)
        #: iterations of the pretraining phase; the GAN phase starts at this iteration
        self.pretrain_iters = config.pretrain_iters
        # Load VGG first: missing weights must stop the run before any time is spent.
        self.content_loss = (
            VGGLoss(config.vgg_layer, config.vgg_weights, config.vgg_rescale).to(device)
            if config.content_loss == "vgg" else None
        )
        self.adversarial_loss = AdversarialLoss(config.gan_type)
        generator = build_chosen_generator(
            config, "srresnet", {"scale": config.scale, "channels": config.channels, "blocks": config.blocks}
        ).to(device)
        discriminator = build_discriminator(
            "srgan-d", crop_size=_discriminator_crop(config.patch_size), channels=config.d_channels
        ).to(device)
        self.nets = {"generator": generator, "discriminator": discriminator}
        self.optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=config.learning_rate,
                                          betas=(0.9, 0.999)),
            "discriminator": torch.optim.Adam(discriminator.parameters(),
                                              lr=config.discriminator_learning_rate,
                                              betas=(0.9, 0.999)),
        }
        gan_iters = max(config.iters - self.pretrain_iters, 1)
        self.schedulers = {
            name: make_scheduler(opt, config, start=self.pretrain_iters, total=gan_iters)
            for name, opt in self.optimizers.items()
        }

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        assert isinstance(config, SRGANConfig)
        if config.pretrain_iters > config.iters:
            raise SrkitError(
                f"--pretrain-iters {config.pretrain_iters} must not exceed --iters {config.iters}"
            )

    def phase(self, iteration: int) -> str:
        return "pretrain" if iteration < self.pretrain_iters else "gan"

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        if self.phase(ctx.iteration) == "pretrain":
            return self._pretrain_step(batch, ctx)
        return self._gan_step(batch, ctx)

    def _pretrain_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        loss = pixel_step(F.mse_loss, batch, ctx)
        return {"content": loss, "g_total": loss}

    def _content(self, sr: Tensor, hr: Tensor) -> Tensor:
        if self.content_loss is None:
            return F.mse_loss(sr.float(), hr)
        return self.content_loss(sr, hr)

    def _gan_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        generator, discriminator = ctx.net("generator"), ctx.net("discriminator")
        adversarial = self.adversarial_loss
        config = self.config

        # Generator update; D's parameters need no gradient for it.
        discriminator.requires_grad_(False)
        with ctx.autocast():
            sr = generator(batch.lr)
            content = self._content(sr, batch.hr)
            fake_logits = discriminator(sr)
            real_logits = discriminator(batch.hr) if adversarial.needs_real_logits else None
            adv = adversarial(fake_logits, real_logits)
            g_total = config.content_weight * content + config.adv_weight * adv
        ctx.backward_and_step(g_total, "generator")

        # Discriminator update on real HR and the (detached) SR just produced.
        discriminator.requires_grad_(True)
        with ctx.autocast():
            real_logits = discriminator(batch.hr)
            fake_logits = discriminator(sr.detach())
            d_real_loss, d_fake_loss = adversarial.discriminator_terms(real_logits, fake_logits)
        ctx.backward_and_step(d_real_loss + d_fake_loss, "discriminator")

        return {
            "content": content.detach(),
            "adv": adv.detach(),
            "g_total": g_total.detach(),
            "d_real_loss": d_real_loss.detach(),
            "d_fake_loss": d_fake_loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
        }
