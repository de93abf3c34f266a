"""The one training loop every recipe runs in: ``srkit train RECIPE``.

The trainer builds the recipe, its data and its :class:`TrainContext`, then per iteration:
makes a batch (LR on the device), calls ``recipe.train_step``, steps every scheduler, guards
against non-finite losses, and at intervals logs, validates and checkpoints. All files are
written by the main process only.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from srkit.errors import SrkitError
from srkit.interfaces import Recipe
from srkit.model_files import read_model_file
from srkit.models import describe, unwrap
from srkit.training import distributed
from srkit.training.batches import TrainBatches
from srkit.training.checkpoint import (
    Checkpoint,
    has_checkpoint,
    read_checkpoint,
    remove_stale_temp_files,
    write_checkpoint,
)
from srkit.training.checks import check_config
from srkit.training.config import TrainConfig
from srkit.training.config_io import config_record, write_config_toml
from srkit.training.context import TrainContext
from srkit.training.distributed import ProcessInfo
from srkit.training.ema import EMA
from srkit.training.rng import restore_rng, seed_everything
from srkit.training.run_log import RunLog, SilentLog
from srkit.training.run_state import gather_state, restore_state
from srkit.training.validation import Validator
from srkit.weights import save_weights, split_extras


@dataclass
class TrainResult:
    out: Path
    iteration: int
    best_psnr: float | None
    last_metrics: dict[str, float] | None


def train(recipe_name: str, recipe_class: type[Recipe], config: TrainConfig) -> TrainResult:
    """Run (or resume) a training run described by ``config``; joins torchrun's group if any."""
    info, device = distributed.start(config.device)
    try:
        return Trainer(recipe_name, recipe_class, config, info, device).run()
    finally:
        distributed.stop()


class Trainer:
    def __init__(self, recipe_name: str, recipe_class: type[Recipe], config: TrainConfig,
                 info: ProcessInfo, device: torch.device) -> None:
        check_config(config)
        self.name, self.config, self.info, self.device = recipe_name, config, info, device
        self.out = Path(config.out)
        self.checkpoints = self.out / "checkpoints"
        # the record describes the run, not how this process was launched: it never says resume
        self.record = {**config_record(recipe_name, config), "resume": False}
        checkpoint = self._checkpoint_to_resume()

        seed_everything(config.seed)
        self.recipe = recipe_class(config, device)
        self._check_recipe()
        if config.init and checkpoint is None:
            self._load_init_weights(Path(config.init))
        ema_names = list(self.recipe.ema_nets()) if config.ema > 0 else []
        self.ema = EMA({n: self.recipe.nets[n] for n in ema_names}, config.ema) if ema_names else None
        self.ctx = TrainContext(self.recipe, config, device, info, self.ema)
        self.start, self.best_psnr = 0, None
        if checkpoint is not None:
            restore_state(checkpoint, self.recipe, self.ctx, self.ema)
            self.start, self.best_psnr = checkpoint.iteration, checkpoint.state.get("best_psnr")
        self.batches = TrainBatches(config, self.recipe, device, info, self.start)
        self.validator = Validator(config.val, config.scale, device) if info.is_main else None
        if checkpoint is not None:  # last: everything above may draw random numbers
            restore_rng(checkpoint.tensors, checkpoint.state["rng"])

    # ---- setup -------------------------------------------------------------------------

    def _checkpoint_to_resume(self) -> Checkpoint | None:
        if not self.config.resume:
            if has_checkpoint(self.checkpoints):
                raise SrkitError(f"{self.out}: already holds a training run; add --resume to "
                                 "continue it or choose another --out")
            return None
        checkpoint = read_checkpoint(self.checkpoints)
        saved = checkpoint.state.get("config", {})
        if saved.get("recipe") != self.name:
            raise SrkitError(f"{self.checkpoints}: checkpoint is from recipe {saved.get('recipe')!r}, "
                             f"not {self.name!r}")
        if saved.get("scale") != self.config.scale:
            raise SrkitError(f"{self.checkpoints}: checkpoint is for x{saved.get('scale')}, "
                             f"not x{self.config.scale}")
        if checkpoint.iteration > self.config.iters:
            raise SrkitError(f"{self.checkpoints}: checkpoint is at iteration {checkpoint.iteration}, "
                             f"past --iters {self.config.iters}")
        return checkpoint

    def _check_recipe(self) -> None:
        recipe = self.recipe
        for attribute in ("nets", "optimizers", "schedulers"):
            if not isinstance(getattr(recipe, attribute, None), dict):
                raise SrkitError(f"recipe {self.name!r}: __init__ must set self.{attribute} (a dict)")
        if "generator" not in recipe.nets:
            raise SrkitError(f"recipe {self.name!r}: nets has no 'generator' to validate and export")

    def _load_init_weights(self, path: Path) -> None:
        tensors, info = read_model_file(path)  # srkit weights, or a checkpoint a converter reads
        generator = self.recipe.nets["generator"]
        arch, kwargs = describe(generator)
        if info["arch"] != arch:
            raise SrkitError(f"{path}: weights are for architecture {info['arch']!r}, "
                             f"this recipe trains {arch!r}")
        if info["scale"] != kwargs.get("scale"):
            raise SrkitError(f"{path}: weights are for x{info['scale']}, not x{kwargs.get('scale')}")
        # the file's own extras, whatever this run saves: --init may drop modules it does not train
        state, extras = split_extras(tensors, info["extras"])
        try:
            unwrap(generator).load_state_dict(state)
            for prefix, module in self.recipe.export_extras().items():
                if extras.get(prefix):
                    unwrap(module).load_state_dict(extras[prefix])
        except RuntimeError as exc:
            raise SrkitError(f"{path}: weights do not fit this {arch!r} generator "
                             f"({str(exc).splitlines()[0]})") from None

    # ---- the loop ----------------------------------------------------------------------

    def run(self) -> TrainResult:
        config, info = self.config, self.info
        log = RunLog(self.out, self.start, config.iters) if info.is_main else SilentLog()
        last_metrics = None
        try:
            if info.is_main:
                write_config_toml(self.out / "config.toml", self.record)
                remove_stale_temp_files(self.checkpoints)
            if self.start == 0:
                last_metrics = self._validate(0, log)
            sums: dict[str, Tensor] = {}
            window_start, window_steps = time.perf_counter(), 0
            for step in range(self.start, config.iters):
                for name, value in self._train_step(step).items():
                    sums[name] = sums.get(name, 0.0) + value
                window_steps += 1
                done = step + 1
                if done % config.log_every == 0 or done == config.iters:
                    elapsed = time.perf_counter() - window_start
                    self._log_step(log, done, step, sums, window_steps, elapsed)
                    sums, window_start, window_steps = {}, time.perf_counter(), 0
                else:
                    log.advance()
                paused = time.perf_counter()  # validation and saving are not training speed
                validate_now = config.val_every and done % config.val_every == 0
                if validate_now or done == config.iters:
                    last_metrics = self._validate(done, log)
                if done % config.save_every == 0 or done == config.iters:
                    self._save(done)
                window_start += time.perf_counter() - paused
            if self.start == config.iters:
                self._save(config.iters)
        finally:
            log.close()
        return TrainResult(self.out, config.iters, self.best_psnr, last_metrics)

    def _train_step(self, step: int) -> dict[str, Tensor]:
        """One iteration: batch, recipe step, schedulers; returns the loss terms as scalars."""
        self.ctx.iteration = step
        losses = self.recipe.train_step(self.batches.next_batch(step), self.ctx)
        with warnings.catch_warnings():  # a step skipped by the fp16 scaler is expected
            warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*")
            for scheduler in self.recipe.schedulers.values():
                scheduler.step()
        losses = {name: torch.as_tensor(value, device=self.device).detach().float().mean()
                  for name, value in losses.items()}
        self._guard_finite(losses, step)
        return losses

    def _guard_finite(self, losses: dict[str, Tensor], step: int) -> None:
        """Stop (every process, writing nothing) when a loss term is NaN or Inf."""
        if not losses:
            return
        values = torch.stack(list(losses.values()))
        finite = torch.isfinite(values)
        bad_here = not bool(finite.all())
        if not distributed.any_true(bad_here, self.info, self.device):
            return
        bad = [f"{name} = {float(v)}" for (name, v), ok in zip(losses.items(), finite.tolist(),
                                                                  strict=True) if not ok]
        where = ", ".join(bad) if bad else "on another process"
        kept = (f"the last good checkpoint is in {self.checkpoints}"
                if has_checkpoint(self.checkpoints) else "no checkpoint was written yet")
        raise SrkitError(f"non-finite loss at iteration {step + 1} ({where}); training stopped, "
                         f"{kept}")

    def _log_step(self, log: RunLog | SilentLog, done: int, step: int, sums: dict[str, Tensor],
                  steps: int, elapsed: float) -> None:
        means = {name: float(total) / steps for name, total in sums.items()}
        rate = steps / elapsed if elapsed > 0 else 0.0
        hr_pixels = self.config.batch_size * self.info.world_size * self.config.patch_size**2
        entry: dict[str, Any] = {"iteration": done, "phase": self.recipe.phase(step),
                                 **{f"loss.{k}": v for k, v in means.items()},
                                 **{f"lr.{name}": opt.param_groups[0]["lr"]
                                    for name, opt in self.recipe.optimizers.items()},
                                 "it_per_s": rate, "hr_mpix_per_s": rate * hr_pixels / 1e6}
        log.record(entry)
        log.advance(means)

    # ---- validation and saving ---------------------------------------------------------

    def _export_net(self) -> nn.Module:
        if self.ema is not None and "generator" in self.ema.shadows:
            return self.ema.shadows["generator"]
        return unwrap(self.recipe.nets["generator"])

    def _validate(self, done: int, log: RunLog | SilentLog) -> dict[str, float] | None:
        metrics = None
        if self.validator is not None:
            metrics = self.validator.run(self._export_net(), self.out / "samples", done)
            log.record({"iteration": done, "val.psnr": metrics["psnr"], "val.ssim": metrics["ssim"]})
            log.message(f"iteration {done}: validation PSNR {metrics['psnr']:.3f} dB, "
                        f"SSIM {metrics['ssim']:.4f}")
            if done > 0 and (self.best_psnr is None or metrics["psnr"] > self.best_psnr):
                self.best_psnr = metrics["psnr"]
                save_weights(self._export_net(), self.checkpoints / "best.safetensors",
                             config=self.record, extras=self.recipe.export_extras())
        distributed.barrier(self.info)
        return metrics

    def _save(self, done: int) -> None:
        if self.info.is_main:
            tensors, state = gather_state(self.recipe, self.ctx, self.ema)
            state.update(config=self.record, best_psnr=self.best_psnr,
                         sampler={"next_step": done})
            write_checkpoint(self.checkpoints, done, tensors, state)
            save_weights(self._export_net(), self.out / "model.safetensors", config=self.record,
                         extras=self.recipe.export_extras())
        distributed.barrier(self.info)
