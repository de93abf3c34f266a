"""Training recipes: ``realesrnet`` (L1 pre-training) and ``realesrgan`` (L1 + VGG19 perceptual +
GAN), with the defaults of Real-ESRGAN's official options (``options/train_realesrnet_x4plus.yml``,
``options/train_realesrgan_x4plus.yml``; docs/realesrgan.md gives each value's source).

Both make LR from the HR crops with the realistic plugin's second-order degradation applied to
the unsharp-masked HR, and compare the SR with the unsharp-masked HR where the options do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from srkit.api import (
    Batch,
    Recipe,
    SrkitError,
    StepContext,
    TrainConfig,
    build_discriminator,
    make_scheduler,
    option,
    pixel_step,
)
from srkit_realesrgan.losses import PerceptualLoss, parse_layer_weights
from srkit_realistic.sharpen import unsharp_mask
from srkit_srgan.generator_choice import (
    build_chosen_generator,
    generator_kwargs_option_default,
    generator_option_default,
)
from srkit_srgan.losses import GAN_TYPES, AdversarialLoss

#: the degradation of both official recipes: second order, sinc filters, on the sharpened HR
REALESRGAN_DEGRADATION = "realistic:order=2,sinc=true,sharpen=true"
#: Adam betas of both official recipes (``optim_g.betas``, ``optim_d.betas``)
BETAS = (0.9, 0.99)
#: official total iterations (and the single MultiStepLR milestone, gamma 0.5)
ESRNET_ITERS = 1_000_000
ESRGAN_ITERS = 400_000
CONTENT_LOSSES = ("vgg", "l1")
PERCEPTUAL_LAYERS = "conv1_2=0.1,conv2_2=0.1,conv3_4=1,conv4_4=1,conv5_4=1"


def _official_defaults(iters: int, learning_rate: float) -> dict[str, Any]:
    """What both official option files share, for a run of ``iters`` at ``learning_rate``: 256 px
    crops, batch 12 per GPU, the learning rate halved once at ``iters`` (MultiStepLR), EMA 0.999,
    and the second-order degradation; srkit validates and saves every 5000 iterations."""
    return {"iters": iters, "batch_size": 12, "patch_size": 256, "learning_rate": learning_rate,
            "learning_rate_schedule": "multistep", "learning_rate_milestones": str(iters),
            "learning_rate_gamma": 0.5, "ema": 0.999, "degradation": REALESRGAN_DEGRADATION,
            "val_every": 5000, "save_every": 5000}


#: shared by both quick presets, so a realesrnet quick run is a valid --init of a realesrgan one
#: (EMA 0.99: at the official 0.999, 300 steps would leave the export mostly the initial weights)
_QUICK_NET = {"channels": 32, "blocks": 2, "growth": 16, "batch_size": 4, "patch_size": 64, "ema": 0.99,
              "val_every": 100, "save_every": 100, "log_every": 20, "workers": 0}


@dataclass
class _RRDBOptions(TrainConfig):
    generator: str = option(
        generator_option_default("rrdbnet"),
        "generator to train: any registered one, NAME or NAME:key=value,... (rrdbnet, srresnet, "
        "spandrel with --init FILE...)")
    generator_kwargs: str = option(
        generator_kwargs_option_default(),
        "the generator's arguments as JSON; set from the --init file, so --resume rebuilds it")
    channels: int = option(64, "RRDBNet feature width (num_feat)", min=1)
    blocks: int = option(23, "RRDBNet trunk blocks (num_block)", min=1)
    growth: int = option(32, "RRDBNet dense-block growth channels (num_grow_ch)", min=1)
    sharpen_targets: bool = option(
        True, "compare the SR with the unsharp-masked HR (l1_gt_usm / percep_gt_usm / gt_usm)")


@dataclass
class RealESRNetConfig(_RRDBOptions):
    """Real-ESRNet x4plus: RRDBNet 64x23, L1 on sharpened HR, Adam 2e-4 betas (0.9, 0.99),
    10^6 iterations (milestone 10^6, gamma 0.5), EMA 0.999, 256x256 crops, batch 12 per GPU."""

    defaults = _official_defaults(ESRNET_ITERS, learning_rate=2e-4)
    presets = {
        "quick": ("under a minute on an idle 2-core CPU (docs/training.md): RRDBNet 32 channels "
                  "x 2 blocks, growth 16, batch 4, 64x64 crops, EMA 0.99, 300 iterations at "
                  "learning rate 5e-4. It checks the pipeline; its model scores below bicubic (a "
                  "useful one needs the defaults, on a GPU)",
                  {**_QUICK_NET, "iters": 300, "learning_rate": 5e-4}),
    }


class RealESRNetRecipe(Recipe):
    """RRDBNet trained with L1 against the (sharpened) HR: the PSNR-oriented first stage."""

    config: RealESRNetConfig
    config_class: ClassVar[type[TrainConfig]] = RealESRNetConfig
    description: ClassVar[str] = "Real-ESRNet (Wang et al. 2021): RRDBNet, L1, second-order degradations"

    def __init__(self, config: RealESRNetConfig, device: torch.device) -> None:
        super().__init__(config, device)
        generator = build_chosen_generator(config, "rrdbnet", _rrdbnet_kwargs(config)).to(device)
        self.nets = {"generator": generator}
        optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=BETAS)
        self.optimizers = {"generator": optimizer}
        self.schedulers = {"generator": make_scheduler(optimizer, config)}

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        target = unsharp_mask(batch.hr) if self.config.sharpen_targets else batch.hr
        return {"l1": pixel_step(F.l1_loss, Batch(batch.lr, target), ctx)}


def _rrdbnet_kwargs(config: _RRDBOptions) -> dict[str, int]:
    return {"scale": config.scale, "channels": config.channels, "blocks": config.blocks,
            "growth": config.growth}


@dataclass
class RealESRGANConfig(_RRDBOptions):
    """Real-ESRGAN x4plus: from Real-ESRNet (``--init``), L1 1.0 + VGG19 perceptual 1.0 (conv1_2..
    conv5_4 before activation, 0.1/0.1/1/1/1, L1) on sharpened HR + vanilla GAN 0.1 against the
    U-Net discriminator on the plain HR; Adam 1e-4 betas (0.9, 0.99) for both nets, 4x10^5
    iterations, EMA 0.999, 256x256 crops, batch 12 per GPU."""

    defaults = _official_defaults(ESRGAN_ITERS, learning_rate=1e-4)
    presets = {
        "quick": ("under a minute on an idle 2-core CPU (docs/training.md): the realesrnet "
                  "quick network and EMA, U-Net discriminator 16 channels, batch 4, 64x64 crops, "
                  "200 iterations. It checks the pipeline; its model scores below bicubic (a "
                  "useful one needs the defaults, on a GPU)",
                  {**_QUICK_NET, "iters": 200, "d_channels": 16}),
    }
    d_channels: int = option(64, "U-Net discriminator width (num_feat)", min=1)
    d_skip: bool = option(True, "U-Net discriminator skip connections")
    discriminator_learning_rate: float = option(1e-4, "discriminator learning rate", min=0,
                                                min_exclusive=True, max=1)
    content_loss: str = option(
        "vgg", "vgg: L1 + VGG19 perceptual (the official recipe; needs the VGG19 ImageNet file: "
        "--vgg-weights or the torch hub cache); l1: the L1 term only (needs no file)",
        choices=CONTENT_LOSSES)
    pixel_weight: float = option(1.0, "weight of the L1 loss", min=0)
    perceptual_weight: float = option(1.0, "weight of the perceptual loss", min=0)
    perceptual_layers: str = option(PERCEPTUAL_LAYERS, "VGG19 layers and their weights, LAYER=W,...")
    gan_weight: float = option(0.1, "weight of the generator's adversarial loss", min=0)
    gan_type: str = option("bce", "adversarial loss: bce (the official 'vanilla'), ragan or lsgan",
                           choices=GAN_TYPES)
    sharpen_gan_targets: bool = option(False, "show D the unsharp-masked HR as real (gan_gt_usm)")
    vgg_weights: str | None = option(
        None, "VGG19 ImageNet weights file (default: torchvision's file in the torch hub cache)",
        path="file")


class RealESRGANRecipe(Recipe):
    """Alternating G and D updates, as Real-ESRGAN's ``optimize_parameters``.

    G minimises ``pixel_weight * L1 + perceptual_weight * perceptual + gan_weight * adversarial``
    (L1 and perceptual against the sharpened HR); D minimises BCE on the HR (real) plus BCE on
    the detached SR (fake), each logit map averaged over its pixels. EMA of G (0.999) is what the
    run exports.
    """

    config: RealESRGANConfig
    config_class: ClassVar[type[TrainConfig]] = RealESRGANConfig
    description: ClassVar[str] = ("Real-ESRGAN (Wang et al. 2021): L1 + VGG19 perceptual + U-Net GAN, "
                                  "any generator")

    def __init__(self, config: RealESRGANConfig, device: torch.device) -> None:
        super().__init__(config, device)
        # VGG first: a missing file must stop the run before any time is spent
        self.perceptual = (
            PerceptualLoss(parse_layer_weights(config.perceptual_layers), config.vgg_weights).to(device)
            if config.content_loss == "vgg" else None
        )
        self.adversarial = AdversarialLoss(config.gan_type)
        generator = build_chosen_generator(config, "rrdbnet", _rrdbnet_kwargs(config)).to(device)
        discriminator = build_discriminator("unet-sn", channels=config.d_channels,
                                            skip=config.d_skip).to(device)
        self.nets = {"generator": generator, "discriminator": discriminator}
        self.optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=BETAS),
            "discriminator": torch.optim.Adam(discriminator.parameters(),
                                              lr=config.discriminator_learning_rate, betas=BETAS),
        }
        self.schedulers = {name: make_scheduler(opt, config) for name, opt in self.optimizers.items()}

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        assert isinstance(config, RealESRGANConfig)
        if config.patch_size % 8:
            raise SrkitError(f"--patch-size {config.patch_size}: the U-Net discriminator needs a "
                             "multiple of 8")
        parse_layer_weights(config.perceptual_layers)

    def start_notes(self) -> list[str]:
        notes = []
        if self.perceptual is None:
            notes.append("--content-loss l1: no perceptual term (the official recipe adds VGG19 "
                         "perceptual loss; pass --vgg-weights FILE for it)")
        if not self.config.init and not self.config.resume:  # a resumed run goes on from its checkpoint
            notes.append("no --init: the GAN starts from random weights (the official recipe "
                         "starts from a Real-ESRNet model)")
        return notes

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        config = self.config
        generator, discriminator = ctx.net("generator"), ctx.net("discriminator")
        sharpened = unsharp_mask(batch.hr) if config.sharpen_targets else batch.hr
        real = unsharp_mask(batch.hr) if config.sharpen_gan_targets else batch.hr

        discriminator.requires_grad_(False)
        with ctx.autocast():
            sr = generator(batch.lr)
            pixel = F.l1_loss(sr.float(), sharpened)
            terms = {"l1": pixel}
            g_total = config.pixel_weight * pixel
            if self.perceptual is not None:
                perceptual = self.perceptual(sr, sharpened)
                terms["perceptual"] = perceptual
                g_total = g_total + config.perceptual_weight * perceptual
            real_logits = discriminator(real) if self.adversarial.needs_real_logits else None
            adversarial = self.adversarial(discriminator(sr), real_logits)
            g_total = g_total + config.gan_weight * adversarial
        ctx.backward_and_step(g_total, "generator")

        discriminator.requires_grad_(True)
        with ctx.autocast():
            real_logits = discriminator(real)
            fake_logits = discriminator(sr.detach())
            d_real, d_fake = self.adversarial.discriminator_terms(real_logits, fake_logits)
        ctx.backward_and_step(d_real + d_fake, "discriminator")

        return {**{k: v.detach() for k, v in terms.items()}, "gan": adversarial.detach(),
                "g_total": g_total.detach(), "d_real_loss": d_real.detach(), "d_fake_loss": d_fake.detach(),
                "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach().float()).mean()}

