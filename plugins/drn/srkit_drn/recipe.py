"""The ``drn`` recipe: dual regression training, paired and semi-supervised (LR-only images).

Paired samples (HR crop + its LR) get the primal loss, L1 of every output level against the HR
downscaled to that size (level 1x against the LR input itself, as the official code does),
plus ``dual_weight`` times the dual loss: each dual model's output against the level below. The
intermediate targets come with the batch (:meth:`DRNRecipe.prepare_batch`): made from the HR by
the run's ``--degradation`` in the same draw as the LR and 8-bit like it (:mod:`srkit_drn.levels`;
the default degradations give MATLAB-bicubic levels, as the official DIV2K pipeline trains on),
also with ``--data-lr``, whose folder holds only the lowest level.

LR-only samples (``--unpaired FOLDER``) have no HR, so only the closed loop constrains them. With
``--unpaired-targets levels`` (the default) the lowest dual model must map the 2x output back to the
LR input, and each higher dual model must map its level back to the (detached) output one level
down. With ``chained`` (the paper's D(P(x)) = x read literally) every output level is brought back
to the input size through the chain of dual models above it and compared with the LR input.
Per step ``round(B * (1 - ratio))`` paired and the rest LR-only crops go through the network
together.

``--dual-update`` says what trains the dual models: ``joint`` (the paper's algorithm: every dual
loss term, paired and LR-only), ``paired`` (only the paired samples' terms; the LR-only terms
still train the primal network, through the duals as they are) or ``frozen`` (nothing: the duals
keep the weights they started with, so the LR-only loss can only move the primal network).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn
from torch.func import functional_call

from srkit.api import (
    Batch,
    Degradation,
    Derived,
    LRCropDataset,
    Recipe,
    RunFolder,
    SrkitError,
    StepContext,
    TrainConfig,
    build_generator,
    make_scheduler,
    option,
    patch_size_hint,
)
from srkit_drn.arch import DualModels, n_levels, preset
from srkit_drn.levels import level_key, make_levels
from srkit_drn.losses import l1

UNPAIRED_STREAM = "unpaired_lr"
#: ``--dual-update`` choices: what trains the dual models
DUAL_UPDATES = ("joint", "paired", "frozen")


#: the official code's training length: 1000 epochs of 1000 iterations (guoyongcs/DRN option.py)
OFFICIAL_ITERS = 1_000_000
#: the official HR crop ("output patch size") at every scale: LR 96 at x4, 48 at x8
OFFICIAL_PATCH = 384


@dataclass
class DRNConfig(TrainConfig):
    """DRN options; the defaults are the official code's (guoyongcs/DRN ``option.py``): batch 32,
    HR crops 384 at every scale, L1, dual weight 0.1, Adam(0.9, 0.999, eps 1e-8) at learning rate 1e-4 with
    cosine annealing to 1e-7 over 10^6 iterations, published sizes per scale."""

    defaults = {
        "iters": OFFICIAL_ITERS, "batch_size": 32,
        "patch_size": OFFICIAL_PATCH,
        "learning_rate": 1e-4, "learning_rate_schedule": "cosine", "learning_rate_min": 1e-7,
        "val_every": 1000, "save_every": 1000,
    }
    presets = {
        "quick": ("about 4 minutes on an idle 2-core CPU (docs/training.md): batch 3, 64x64 HR "
                  "crops, 400 iterations (a demonstration of the loop, below bicubic on Set5)", {
                      "iters": 400, "batch_size": 3, "patch_size": 64, "val_every": 200,
                      "save_every": 200, "log_every": 20}),
    }

    variant: str = option("s", "model size: s (DRN-S) or l (DRN-L)", choices=("s", "l"))
    n_feats: int = option(Derived(lambda c: preset(c.variant, c.scale)[0],
                                  "the published width of --variant at --scale"), "feature width",
                          min=1)
    n_blocks: int = option(Derived(lambda c: preset(c.variant, c.scale)[1],
                                   "the published depth of --variant at --scale"),
                           "RCAB blocks per up block", min=1)
    dual_weight: float = option(0.1, "weight lambda of the dual (closed-loop) loss", min=0)
    unpaired: str | None = option(None, "folder of LR-only images (any size) mixed into training; "
                                  "they get the dual loss only (what it gains: docs/drn.md)",
                                  path="dir")
    unpaired_ratio: float = option(0.3, "share of each batch taken from --unpaired (0..1)",
                                   min=0, max=1)
    unpaired_targets: str = option(
        "levels", "LR-only dual loss: levels (each dual vs the detached level below) or chained "
        "(duals chained down to the LR input)", choices=("levels", "chained"))
    dual_update: str = option(
        "joint", "what trains the dual models: joint (every dual loss term, the paper's "
        "algorithm), paired (paired samples only) or frozen (nothing: kept as loaded by --init)",
        choices=DUAL_UPDATES)
    save_dual: bool = option(True, "store the dual models in the exported weights (dual.* keys)")


class DRNRecipe(Recipe):
    """Trains the DRN primal network and its dual models with one Adam optimizer (``generator``).

    The official code steps one Adam per network with the same settings; Adam is per-parameter,
    so one optimizer over both parameter groups makes identical updates.
    """

    config: DRNConfig

    config_class: ClassVar[type[TrainConfig]] = DRNConfig
    description: ClassVar[str] = (
        "DRN dual regression (Guo et al. 2020): paired + LR-only closed-loop training")

    def __init__(self, config: DRNConfig, device: torch.device) -> None:
        super().__init__(config, device)
        kwargs = self.generator_kwargs()
        generator = build_generator(f"drn-{config.variant}", **kwargs)
        duals = DualModels(config.scale, kwargs["n_feats"])
        self.nets = {"generator": generator.to(device), "dual": duals.to(device)}
        groups = [{"params": generator.parameters()}]
        if config.dual_update == "frozen":
            duals.requires_grad_(False)
        else:
            groups.append({"params": duals.parameters()})
        optimizer = torch.optim.Adam(groups, lr=config.learning_rate, betas=(0.9, 0.999), eps=1e-8)
        self.optimizers = {"generator": optimizer}
        self.schedulers = {"generator": make_scheduler(optimizer, config)}

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        """DRN halves the resolution per level: the scale must be a power of two."""
        assert isinstance(config, DRNConfig)
        n_levels(config.scale)

    def extra_datasets(self) -> dict[str, torch.utils.data.Dataset]:
        if not self.config.unpaired:
            return {}
        scale, lr_patch = self.config.scale, self.config.patch_size // self.config.scale
        def size_hint(side: int) -> str:
            return f"LR crops are --patch-size / --scale: {patch_size_hint(side * scale, scale)}"

        return {UNPAIRED_STREAM: LRCropDataset(self.config.unpaired, lr_patch, size_hint=size_hint)}

    def level_factors(self) -> tuple[int, ...]:
        """Downscaling factors of the intermediate targets: 4 and 2 at x8, 2 at x4, none at x2."""
        return tuple(2**j for j in range(n_levels(self.config.scale) - 1, 0, -1))

    def prepare_batch(self, batch: Batch, degradation: Degradation, generator: torch.Generator) -> None:
        """Put the intermediate targets in ``batch.extra`` (:func:`~srkit_drn.levels.level_key`),
        made with the run's LR in one draw: the deepest level repeats ``batch.lr``'s draw."""
        factors = self.level_factors()
        if not factors:
            return
        levels = make_levels(batch.hr, [self.config.scale, *factors], degradation,
                             quantize=self.config.quantize_lr, generator=generator)
        batch.extra.update({level_key(f): level for f, level in zip(factors, levels[1:], strict=True)})

    def phase(self, iteration: int) -> str:
        return "semi-supervised" if self.config.unpaired else "paired"

    def describe_stream(self, name: str, count: int) -> str:
        if name != UNPAIRED_STREAM:
            return super().describe_stream(name, count)
        return f"{count} LR-only image{'s' * (count != 1)} ({self.config.unpaired_ratio:.0%} of each batch)"

    def start_notes(self) -> list[str]:
        if not self.config.unpaired or self.config.init:
            return []
        return ["--unpaired without --init: joint paired + LR-only training of a new DRN from "
                f"scratch; {self._fine_tune_hint()}"]

    def _fine_tune_hint(self) -> str:
        """How to fine-tune a trained model instead: a finished model, never this run's folder."""
        scale = self.config.scale
        paired = RunFolder.default("drn", scale).root
        if self.config.out is not None and Path(self.config.out).resolve() == paired.resolve():
            paired = paired.with_name(f"{paired.name}_paired")
        model = RunFolder(paired).model
        if model.is_file():
            return f"to fine-tune the trained model {model} on the LR-only images instead, add --init {model}"
        return (f"to fine-tune a trained model on the LR-only images instead, first train one on "
                f"paired data ('srkit train drn --scale {scale} --out {paired}'), then add --init {model}")

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

    def lr_only_dual(self, ctx: StepContext) -> nn.Module:
        """The dual models as the LR-only samples' loss sees them: the trained ones, or with
        ``--dual-update paired`` the same weights detached, so that loss reaches only the
        primal network."""
        if self.config.dual_update != "paired":
            return ctx.net("dual")
        return DetachedParameters(self.nets["dual"])

    def dual_outputs(self, levels: list[Tensor], n_paired: int, ctx: StepContext) -> list[Tensor]:
        """``back``: the dual models on every level of ``[paired; LR-only]`` samples."""
        if self.config.dual_update != "paired" or n_paired == levels[0].shape[0]:
            return ctx.net("dual")(levels)
        paired = ctx.net("dual")([level[:n_paired] for level in levels])
        lr_only = self.lr_only_dual(ctx)([level[n_paired:] for level in levels])
        return [torch.cat([p, u]) for p, u in zip(paired, lr_only, strict=True)]

    def train_step(self, batch: Batch, ctx: StepContext) -> dict[str, Tensor]:
        paired_lr, paired_hr, unpaired_lr = self.split_batch(batch)
        n_paired = paired_lr.shape[0]
        lr_levels = {f: batch.extra[level_key(f)][:n_paired] for f in self.level_factors()
                     if level_key(f) in batch.extra}
        with ctx.autocast():
            levels = ctx.net("generator")(torch.cat([paired_lr, unpaired_lr]), all_levels=True)
            back = self.dual_outputs(levels, n_paired, ctx)
            chains = None
            if self.config.unpaired_targets == "chained" and unpaired_lr.shape[0]:
                chains = self.chained_duals(levels, back, n_paired, self.lr_only_dual(ctx))
        losses = self.losses(levels, back, paired_lr, paired_hr, unpaired_lr, lr_levels,
                             chains=chains)
        total = losses["total"]
        if paired_lr.shape[0] == 0:
            # Without paired samples the 1x output has no loss; DDP needs every parameter used.
            total = total + 0.0 * levels[0].sum()
        ctx.backward_and_step(total, "generator")
        return {name: value.detach() for name, value in losses.items()}

    def losses(self, levels: list[Tensor], back: list[Tensor], paired_lr: Tensor, paired_hr: Tensor,
               unpaired_lr: Tensor, lr_levels: dict[int, Tensor] | None = None,
               chains: list[Tensor] | None = None) -> dict[str, Tensor]:
        """Loss terms of one step; ``primal`` is absent when the batch has no paired sample.

        ``levels``: outputs 1x..scale x for ``[paired; unpaired]`` samples; ``back``: dual outputs,
        ``back[k]`` at level k's size; ``lr_levels``: the paired samples' intermediate targets
        by downscaling factor (:meth:`prepare_batch`); ``chains``: :meth:`chained_duals` of the
        LR-only samples, which replace the detached level targets (``--unpaired-targets chained``).
        """
        if chains is not None:
            return self._chained_losses(levels, back, paired_lr, paired_hr, unpaired_lr, chains,
                                        lr_levels)
        targets, terms = self._primal(levels, paired_lr, paired_hr, lr_levels)
        n_paired = paired_lr.shape[0]
        dual = []
        for k, prediction in enumerate(back):
            # LR-only samples: the level below is the input (k = 0) or the network's own output.
            lr_only = unpaired_lr if k == 0 else levels[k][n_paired:].detach().float()
            target = lr_only if targets is None else torch.cat([targets[k], lr_only])
            dual.append(l1(prediction, target))
        terms["dual"] = cast(Tensor, sum(dual))
        terms["total"] = terms.get("primal", 0.0) + self.config.dual_weight * terms["dual"]
        return terms

    def _primal(self, levels: list[Tensor], paired_lr: Tensor, paired_hr: Tensor,
                lr_levels: dict[int, Tensor] | None) -> tuple[list[Tensor] | None, dict[str, Tensor]]:
        """The paired samples' level targets (None without paired samples) and the ``primal``
        term: L1 of every output level against its target."""
        n_paired = paired_lr.shape[0]
        if not n_paired:
            return None, {}
        targets = self.paired_targets(paired_lr, paired_hr, lr_levels)
        pairs = zip(levels, targets, strict=True)
        primal = cast(Tensor, sum(l1(level[:n_paired], target) for level, target in pairs))
        return targets, {"primal": primal}

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
                        chains: list[Tensor], lr_levels: dict[int, Tensor] | None = None
                        ) -> dict[str, Tensor]:
        """``losses`` with LR-only term k = L1(chains[k], x), no detached targets; each term
        averages paired and LR-only samples by count, as the ``levels`` reading does."""
        targets, terms = self._primal(levels, paired_lr, paired_hr, lr_levels)
        n_paired, n_unpaired = paired_lr.shape[0], unpaired_lr.shape[0]
        dual_terms = []
        for k, chain in enumerate(chains):
            lr_only = l1(chain, unpaired_lr)
            if targets is None:
                dual_terms.append(lr_only)
            else:
                paired = l1(back[k][:n_paired], targets[k])
                dual_terms.append((n_paired * paired + n_unpaired * lr_only) / (n_paired + n_unpaired))
        terms["dual"] = cast(Tensor, sum(dual_terms))
        terms["total"] = terms.get("primal", 0.0) + self.config.dual_weight * terms["dual"]
        return terms

    @torch.no_grad()
    def paired_targets(self, lr: Tensor, hr: Tensor,
                       lr_levels: dict[int, Tensor] | None = None) -> list[Tensor]:
        """Targets of levels 1x..scale x: the LR input, the intermediate levels, the HR.

        The intermediate levels are ``lr_levels`` (from the batch); without them (a batch built
        by hand) they are the HR MATLAB-bicubic-downscaled and rounded like the run's LR.
        """
        factors = self.level_factors()
        if lr_levels:
            missing = sorted(set(factors) - set(lr_levels))
            if missing:
                raise SrkitError(f"the batch has no LR level for factors {missing}")
            middle = [lr_levels[f] for f in factors]
        elif factors:
            middle = make_levels(hr, factors, quantize=self.config.quantize_lr)
        else:
            middle = []
        return [lr, *middle, hr]

    def generator_kwargs(self) -> dict[str, Any]:
        """Factory kwargs recorded in the weights: always the explicit sizes (the published ones
        are the fields' derived defaults)."""
        config = self.config
        return {"scale": config.scale, "n_feats": config.n_feats, "n_blocks": config.n_blocks}


class DetachedParameters(nn.Module):
    """Calls ``module`` with its parameters detached: outputs keep their gradient path to the
    inputs, but no gradient reaches the parameters (``--dual-update paired``)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.inner = [module]  # a list, so the module is not registered (and not trained) twice

    def forward(self, *args: Any) -> Any:
        module = self.inner[0]
        detached = {name: p.detach() for name, p in module.named_parameters()}
        return functional_call(module, detached, args)
