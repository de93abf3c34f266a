"""The ``drn`` recipe: dual regression training, paired and semi-supervised (LR-only images).

Paired samples (HR crop + its LR) get the primal loss, L1 of every output level against the HR
bicubic-downscaled to that size (level 1x against the LR input itself, as the official code does),
plus ``dual_weight`` times the dual loss: each dual model's output against the level below.

LR-only samples (``--unpaired FOLDER``) have no HR, so only the closed loop constrains them. With
``--unpaired-targets levels`` (the default) the lowest dual model must map the 2x output back to the
LR input, and each higher dual model must map its level back to the (detached) output one level
down. With ``chained`` (the paper's D(P(x)) = x read literally) every output level is brought back
to the input size through the chain of dual models above it and compared with the LR input.
Per step ``round(B * (1 - ratio))`` paired and the rest LR-only crops go through the network
together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from srkit.data import LRCropDataset
from srkit.degradations.imresize import imresize
from srkit.errors import SrkitError
from srkit.interfaces import Batch, Recipe, StepContext
from srkit.models import build_generator
from srkit.training.config import TrainConfig, option
from srkit.training.schedules import make_scheduler
from srkit.weights import read_extras
from srkit_drn.arch import DualModels, n_levels, preset

UNPAIRED_STREAM = "unpaired_lr"


@dataclass
class DRNConfig(TrainConfig):
    """DRN options. The paper trains with ``--patch-size 384 --batch-size 32`` on DF2K; the
    defaults here are smaller so a run on a laptop CPU finishes."""

    variant: str = option("s", "model size: s (DRN-S) or l (DRN-L)", choices=("s", "l"))
    n_feats: int = option(0, "feature width (0 = the published size of --variant at --scale)")
    n_blocks: int = option(0, "RCAB blocks per up block (0 = the published size)")
    dual_weight: float = option(0.1, "weight lambda of the dual (closed-loop) loss")
    unpaired: str | None = option(None, "folder of LR-only images (any size) mixed into training")
    unpaired_ratio: float = option(0.3, "share of each batch taken from --unpaired (0..1)")
    unpaired_targets: str = option(
        "levels", "LR-only dual loss: levels (each dual vs the detached level below) or chained "
        "(duals chained down to the LR input)", choices=("levels", "chained"))
    save_dual: bool = option(True, "store the dual models in the exported weights (dual.* keys)")
    patch_size: int = option(192, "HR crop size in pixels (paper: 384, i.e. x4 LR 96 / x8 LR 48)")
    batch_size: int = option(8, "batch size per process (paper: 32)")
    lr_schedule: str = option("cosine", "constant, multistep or cosine (paper: cosine to lr_min)",
                              choices=("constant", "multistep", "cosine"))


def resolve_size(config: DRNConfig) -> tuple[int, int]:
    """``(n_feats, n_blocks)``: explicit options win, otherwise the published preset."""
    if config.n_feats > 0 and config.n_blocks > 0:
        return config.n_feats, config.n_blocks
    feats, blocks = preset(config.variant, config.scale)
    return config.n_feats or feats, config.n_blocks or blocks


def l1(prediction: Tensor, target: Tensor) -> Tensor:
    return F.l1_loss(prediction.float(), target.float())


class DRNRecipe(Recipe):
    """Trains the DRN primal network and its dual models with one Adam optimizer (``generator``).

    The official code steps one Adam per network with the same settings; Adam is per-parameter,
    so one optimizer over both parameter groups makes identical updates.
    """

    config_class: ClassVar[type[TrainConfig]] = DRNConfig
    description: ClassVar[str] = (
        "DRN dual regression (Guo et al. 2020): paired + LR-only closed-loop training")

    def __init__(self, config: DRNConfig, device: torch.device) -> None:
        super().__init__(config, device)
        n_levels(config.scale)
        if not 0.0 <= config.unpaired_ratio <= 1.0:
            raise SrkitError(f"unpaired_ratio must be in [0, 1], got {config.unpaired_ratio}")
        if config.patch_size % config.scale:
            raise SrkitError(
                f"patch_size {config.patch_size} is not a multiple of scale {config.scale}")
        kwargs = self.generator_kwargs()
        generator = build_generator(f"drn-{config.variant}", **kwargs)
        duals = DualModels(config.scale, kwargs["n_feats"])
        if config.init:
            self._load_init_duals(duals, config.init)
        self.nets = {"generator": generator.to(device), "dual": duals.to(device)}
        optimizer = torch.optim.Adam(
            [{"params": generator.parameters()}, {"params": duals.parameters()}],
            lr=config.lr, betas=(0.9, 0.999), eps=1e-8,
        )
        self.optimizers = {"generator": optimizer}
        self.schedulers = {"generator": make_scheduler(optimizer, config)}

    @staticmethod
    def _load_init_duals(duals: DualModels, path: str) -> None:
        """Start the dual models from ``dual.*`` tensors of the --init weights when it has them."""
        state = read_extras(path).get("dual")
        if not state:
            return
        try:
            duals.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise SrkitError(f"{path}: dual models do not fit this DRN: {first}") from None

    def extra_datasets(self) -> dict[str, torch.utils.data.Dataset]:
        if not self.config.unpaired:
            return {}
        lr_patch = self.config.patch_size // self.config.scale
        return {UNPAIRED_STREAM: LRCropDataset(self.config.unpaired, lr_patch)}

    def phase(self, iteration: int) -> str:
        return "semi-supervised" if self.config.unpaired else "paired"

    def export_extras(self) -> dict[str, torch.nn.Module]:
        return {"dual": self.nets["dual"]} if self.config.save_dual else {}

    def split_batch(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """``(paired_lr, paired_hr, unpaired_lr)`` for this step, by ``unpaired_ratio``."""
        if not self.config.unpaired:
            return batch.lr, batch.hr, batch.lr[:0]
        unpaired = batch.extra.get(UNPAIRED_STREAM)
        if unpaired is None:
            raise SrkitError(f"--unpaired is set but the batch has no {UNPAIRED_STREAM!r} stream")
        size = batch.lr.shape[0]
        n_paired = round(size * (1.0 - self.config.unpaired_ratio))
        return batch.lr[:n_paired], batch.hr[:n_paired], unpaired[: size - n_paired]

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        paired_lr, paired_hr, unpaired_lr = self.split_batch(batch)
        with ctx.autocast():
            levels = ctx.net("generator")(torch.cat([paired_lr, unpaired_lr]), all_levels=True)
            back = ctx.net("dual")(levels)
            chains = None
            if self.config.unpaired_targets == "chained" and unpaired_lr.shape[0]:
                chains = self.chained_duals(levels, back, paired_lr.shape[0], ctx.net("dual"))
        losses = self.losses(levels, back, paired_lr, paired_hr, unpaired_lr, chains=chains)
        total = losses["total"]
        if paired_lr.shape[0] == 0:
            # Without paired samples the 1x output has no loss; DDP needs every parameter used.
            total = total + 0.0 * levels[0].sum()
        ctx.backward_and_step(total, "generator")
        return {name: value.detach() for name, value in losses.items()}

    def losses(self, levels: list[Tensor], back: list[Tensor], paired_lr: Tensor, paired_hr: Tensor,
               unpaired_lr: Tensor, chains: list[Tensor] | None = None) -> dict[str, Tensor]:
        """Loss terms of one step; ``primal`` is absent when the batch has no paired sample.

        ``levels``: outputs 1x..scale x for ``[paired; unpaired]`` samples; ``back``: dual outputs,
        ``back[k]`` at level k's size; ``chains``: :meth:`chained_duals` of the LR-only samples,
        which replace the detached level targets (``--unpaired-targets chained``).
        """
        if chains is not None:
            return self._chained_losses(levels, back, paired_lr, paired_hr, unpaired_lr, chains)
        n_paired = paired_lr.shape[0]
        targets = self.paired_targets(paired_lr, paired_hr) if n_paired else None
        terms: dict[str, Tensor] = {}
        if targets is not None:
            pairs = zip(levels, targets, strict=True)
            terms["primal"] = sum(l1(level[:n_paired], target) for level, target in pairs)
        dual = []
        for k, prediction in enumerate(back):
            # LR-only samples: the level below is the input (k = 0) or the network's own output.
            lr_only = unpaired_lr if k == 0 else levels[k][n_paired:].detach().float()
            target = lr_only if targets is None else torch.cat([targets[k], lr_only])
            dual.append(l1(prediction, target))
        terms["dual"] = sum(dual)
        terms["total"] = terms.get("primal", 0.0) + self.config.dual_weight * terms["dual"]
        return terms

    @staticmethod
    def chained_duals(levels: list[Tensor], back: list[Tensor], n_paired: int,
                      dual: torch.nn.Module) -> list[Tensor]:
        """LR-only samples' output levels 1..K each brought down to the input size through the
        duals above it: element k is ``D_0(D_1(...D_k(P_(k+1)(x))))``."""
        current = [level[n_paired:] for level in levels]
        down = [b[n_paired:] for b in back]
        chains = [down[0]]
        for _ in range(1, len(back)):
            # one more dual step for every chain: level j+1's value moves to level j
            current = [current[0], *down[1:], current[-1]]
            down = dual(current)
            chains.append(down[0])
        return chains

    def _chained_losses(self, levels: list[Tensor], back: list[Tensor], paired_lr: Tensor,
                        paired_hr: Tensor, unpaired_lr: Tensor,
                        chains: list[Tensor]) -> dict[str, Tensor]:
        """``losses`` with LR-only term k = L1(chains[k], x), no detached targets; each term
        averages paired and LR-only samples by count, as the ``levels`` reading does."""
        n_paired, n_unpaired = paired_lr.shape[0], unpaired_lr.shape[0]
        targets = self.paired_targets(paired_lr, paired_hr) if n_paired else None
        terms: dict[str, Tensor] = {}
        if targets is not None:
            pairs = zip(levels, targets, strict=True)
            terms["primal"] = sum(l1(level[:n_paired], target) for level, target in pairs)
        dual_terms = []
        for k, chain in enumerate(chains):
            lr_only = l1(chain, unpaired_lr)
            if targets is None:
                dual_terms.append(lr_only)
            else:
                paired = l1(back[k][:n_paired], targets[k])
                dual_terms.append((n_paired * paired + n_unpaired * lr_only) / (n_paired + n_unpaired))
        terms["dual"] = sum(dual_terms)
        terms["total"] = terms.get("primal", 0.0) + self.config.dual_weight * terms["dual"]
        return terms

    @torch.no_grad()
    def paired_targets(self, lr: Tensor, hr: Tensor) -> list[Tensor]:
        """Targets of levels 1x..scale x: the LR input, the HR MATLAB-bicubic-downscaled, the HR."""
        height, width = hr.shape[-2:]
        levels = n_levels(self.config.scale)
        middle = [imresize(hr, size=(height // 2**j, width // 2**j))
                  for j in range(levels - 1, 0, -1)]
        return [lr, *middle, hr]

    def generator_kwargs(self) -> dict[str, Any]:
        """Factory kwargs recorded in the weights: always the explicit sizes."""
        n_feats, n_blocks = resolve_size(self.config)
        return {"scale": self.config.scale, "n_feats": n_feats, "n_blocks": n_blocks}
