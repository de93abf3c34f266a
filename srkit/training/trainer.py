"""The one training loop every recipe runs in: ``srkit train RECIPE``.

The trainer builds the recipe, its data and its :class:`TrainContext`, then per iteration:
makes a batch (LR on the device), calls ``recipe.train_step``, steps every scheduler, folds the
losses into the device-side non-finite guard, and at intervals checks the guard, logs, validates
and checkpoints. Between intervals nothing waits for the device (no ``.item()``, ``float()`` or
``bool()`` on a device tensor), so a GPU never idles on the host. All files are written by the
main process only.
"""

from __future__ import annotations

import shlex
import signal
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from srkit.atomic_files import remove_stale_temp_files
from srkit.config import TrainConfig
from srkit.errors import SrkitError, StoppedBySignal, first_informative_line
from srkit.interfaces import Recipe
from srkit.nn.models import unwrap
from srkit.run_folder import RunFolder
from srkit.training import distributed
from srkit.training.batches import TrainBatches
from srkit.training.config_io import check_config, config_record, write_config_toml
from srkit.training.context import TrainContext
from srkit.training.distributed import ProcessInfo
from srkit.training.ema import EMA
from srkit.training.guards import FiniteGuard, RunFolderLock, StopRequests, signal_name, weight_problem
from srkit.training.report import RunLog, RunProgress, SilentLog, phase_plan, start_summary
from srkit.training.rng import seed_everything
from srkit.training.state import (
    Checkpoint,
    add_rank_rng,
    capture_rank_rng,
    check_nets_fit,
    gather_state,
    has_checkpoint,
    load_init_weights,
    read_checkpoint,
    read_checkpoint_state,
    restore_rank_rng,
    restore_state,
    write_checkpoint,
)
from srkit.training.validation import Validator
from srkit.weights.files import save_weights
from srkit.writable import check_output_folder


@dataclass
class TrainResult:
    out: Path
    iteration: int
    best_psnr: float | None
    last_metrics: dict[str, float] | None


def train(recipe_name: str, recipe_class: type[Recipe], config: TrainConfig) -> TrainResult:
    """Run (or resume) a training run described by ``config``; joins torchrun's group if any.

    The main process holds the run folder's lock from before the checkpoint is read until the
    last file is written, so a second run into the same ``out`` is refused.
    """
    info, device = distributed.start(config.device)
    assert config.out is not None, "the run folder is chosen before training starts"
    try:
        if info.is_main:  # before any work: a long run must not fail at its first save
            check_output_folder(Path(config.out), "--out")
        with RunFolderLock(Path(config.out)) if info.is_main else nullcontext():
            result = Trainer(recipe_name, recipe_class, config, info, device).run()
    except RuntimeError as exc:
        # no orderly shutdown when a peer is gone: it could block; the exit tears the group down
        failure = distributed.peer_failure(exc, info)
        if failure is None:
            raise
        raise failure from None
    except BaseException:
        if not info.distributed:
            distributed.stop()
        raise
    distributed.stop()
    return result


class Trainer:
    def __init__(self, recipe_name: str, recipe_class: type[Recipe], config: TrainConfig,
                 info: ProcessInfo, device: torch.device) -> None:
        check_config(config, recipe_class)
        self.name, self.config, self.info, self.device = recipe_name, config, info, device
        assert config.out is not None, "the run folder is chosen before the trainer starts"
        self.folder = RunFolder(Path(config.out))
        self.out = self.folder.root
        self.checkpoints = self.folder.checkpoints
        # the record describes the run, not how this process was launched: it never says resume
        self.record = {**config_record(recipe_name, config), "resume": False}
        checkpoint = self._checkpoint_to_resume()

        seed_everything(config.seed)
        self.recipe = recipe_class(config, device)
        self._check_recipe()
        if config.init and checkpoint is None:
            load_init_weights(Path(config.init), self.recipe, recipe_name)
        ema_names = list(self.recipe.ema_nets()) if config.ema > 0 else []
        self.ema = EMA({n: self.recipe.nets[n] for n in ema_names}, config.ema) if ema_names else None
        self.ctx = TrainContext(self.recipe, config, device, info, self.ema)
        self.start, self.best_psnr = 0, None
        self.last_validation: dict[str, Any] | None = None
        #: the signal that stopped the run before its planned end (recorded in its weights)
        self.stopped_by: str | None = None
        if checkpoint is not None:
            check_nets_fit(checkpoint, self.recipe, self.record, str(self.checkpoints))
            self._restore(lambda: restore_state(checkpoint, self.recipe, self.ctx, self.ema))
            self.start, self.best_psnr = checkpoint.iteration, checkpoint.state.get("best_psnr")
            self.last_validation = checkpoint.state.get("validation")
        self.batches = TrainBatches(config, self.recipe, device, info, self.start)
        self.guard = FiniteGuard(device)
        self.validator = Validator(config.val, config.scale, device) if info.is_main else None
        if checkpoint is not None:  # last: everything above may draw random numbers
            self._restore(lambda: restore_rank_rng(checkpoint, info))

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

    def _restore(self, restore: Callable[[], None]) -> None:
        """Run ``restore``; a checkpoint whose state does not load is a one-line error."""
        try:
            restore()
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise SrkitError(f"{self.checkpoints}: the checkpoint's state does not fit this run "
                             f"({first_informative_line(exc)})") from None

    def _check_recipe(self) -> None:
        recipe = self.recipe
        for attribute in ("nets", "optimizers", "schedulers"):
            if not isinstance(getattr(recipe, attribute, None), dict):
                raise SrkitError(f"recipe {self.name!r}: __init__ must set self.{attribute} (a dict)")
        if "generator" not in recipe.nets:
            raise SrkitError(f"recipe {self.name!r}: nets has no 'generator' to validate and export")

    # ---- the loop ----------------------------------------------------------------------

    def run(self) -> TrainResult:
        config, info = self.config, self.info
        log = RunLog(self.out, self.start, config.iters) if info.is_main else SilentLog()
        last_metrics = None
        plan = phase_plan(self.recipe, config.iters)
        self.progress = RunProgress(config, self.device, self.start, plan, not log.interactive)
        stop = StopRequests("press Ctrl-C again to stop at once",
                            f"every checkpoint written so far is intact; {self._resume_hint()}")
        stop.install()
        try:
            if info.is_main:
                write_config_toml(self.folder.config, self.record)
                remove_stale_temp_files(self.out)
                remove_stale_temp_files(self.checkpoints)
            if self.start == config.iters:
                log.message(f"{self.out}: this run finished at iteration {config.iters}; nothing "
                            "to train (pass a larger --iters with --resume to train further)")
            else:
                for line in start_summary(self.name, self.recipe, config, self.device,
                                          info.world_size, self.batches.sizes, self.start, plan,
                                          paired=self.batches.paired,
                                          data_notes=self.batches.notes):
                    log.message(line)
            if self.start == 0:
                last_metrics = self._validate(0, log)
            sums: dict[str, Tensor] = {}
            window_start, window_steps = time.perf_counter(), 0
            for step in range(self.start, config.iters):
                for name, value in self._train_step(step).items():
                    sums[name] = sums.get(name, 0.0) + value
                window_steps += 1
                done = step + 1
                validate_now = bool(config.val_every) and done % config.val_every == 0
                save_now = done % config.save_every == 0 or done == config.iters
                log_now = done % config.log_every == 0 or done == config.iters
                if log_now or validate_now or save_now:
                    self._stop_if_not_finite()
                if log_now:
                    elapsed = time.perf_counter() - window_start
                    self._log_step(log, done, step, sums, window_steps, elapsed)
                    sums, window_start, window_steps = {}, time.perf_counter(), 0
                else:
                    log.advance()
                paused = time.perf_counter()  # validation and saving are not training speed
                if validate_now or done == config.iters:
                    last_metrics = self._validate(done, log)
                if save_now:
                    self._save(done)
                if self._stop_requested(stop, done):
                    self._stop(stop.signum or signal.SIGTERM, done, log)
                window_start += time.perf_counter() - paused
            if self.start == config.iters:
                self._save(config.iters)
        finally:
            stop.restore()
            log.close()
            self.batches.close()
        return TrainResult(self.out, config.iters, self.best_psnr, last_metrics)

    # ---- stopping on a signal ----------------------------------------------------------

    def _resume_hint(self) -> str:
        return f"resume with: srkit train {self.name} --out {shlex.quote(str(self.out))} --resume"

    def _stop_requested(self, stop: StopRequests, done: int) -> bool:
        """Whether to stop after this step; processes agree at log steps (no sync per step)."""
        if done == self.config.iters:
            return False  # finished anyway
        if not self.info.distributed:
            return stop.requested
        if done % self.config.log_every != 0:
            return False
        return distributed.any_true(stop.requested, self.info, self.device)

    def _stop(self, signum: int, done: int, log: RunLog | SilentLog) -> None:
        """Validate at ``done`` (unless just done), save the weights and a checkpoint saying the
        run stopped there, and raise :class:`StoppedBySignal`: stopped weights carry a score."""
        if self.last_validation is None or self.last_validation["iteration"] != done:
            self._validate(done, log)
        self.stopped_by = signal_name(signum)
        log.record({"iteration": done, "stopped_by": self.stopped_by})
        self._save(done)
        raise StoppedBySignal(f"{signal_name(signum)}: stopped at iteration {done}, checkpoint "
                              f"saved in {self.checkpoints}; {self._resume_hint()}", signum)

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
        self.guard.observe(losses, step)
        return losses

    def _stop_if_not_finite(self) -> None:
        """Stop (every process, writing nothing) when a loss term was NaN or Inf since the start."""
        found = self.guard.check(self.info)
        if found is None:
            return
        iteration, terms = found
        where = ", ".join(terms) if terms else "on another process"
        at = f" at iteration {iteration}" if iteration else ""
        kept = (f"the last good checkpoint is in {self.checkpoints}"
                if has_checkpoint(self.checkpoints) else "no checkpoint was written yet")
        raise SrkitError(f"non-finite loss{at} ({where}); training stopped, {kept}")

    def _log_step(self, log: RunLog | SilentLog, done: int, step: int, sums: dict[str, Tensor],
                  steps: int, elapsed: float) -> None:
        means = {name: float(total) / steps for name, total in sums.items()}
        rate = steps / elapsed if elapsed > 0 else 0.0
        # time blocked on the data loaders, as a share of the window's step time
        data_wait = min(1.0, self.batches.take_wait_seconds() / elapsed) if elapsed > 0 else 0.0
        hr_pixels = self.config.batch_size * self.info.world_size * self.config.patch_size**2
        entry: dict[str, Any] = {"iteration": done, "phase": self.recipe.phase(step),
                                 **{f"loss.{k}": v for k, v in means.items()},
                                 **{f"learning_rate.{name}": opt.param_groups[0]["lr"]
                                    for name, opt in self.recipe.optimizers.items()},
                                 "it_per_s": rate, "hr_mpix_per_s": rate * hr_pixels / 1e6,
                                 "data_wait": data_wait}
        log.record(entry)
        for line in self.progress.on_record(entry):
            log.message(line)
        log.advance({**means, "data": f"{100 * data_wait:.0f}%"})

    # ---- validation and saving ---------------------------------------------------------

    def _export_net(self) -> nn.Module:
        if self.ema is not None and "generator" in self.ema.shadows:
            return self.ema.shadows["generator"]
        return unwrap(self.recipe.nets["generator"])

    def _validate(self, done: int, log: RunLog | SilentLog) -> dict[str, float] | None:
        if done > 0:  # before best.safetensors could be written from them
            self._check_weights(done)
        metrics, failure = None, None
        try:
            metrics = self._validate_here(done, log)
        except OSError as exc:
            failure = self._write_failure(done, exc)
        except SrkitError as exc:  # e.g. a sample image that cannot be written
            failure = exc
        self._stop_together(failure, "validation failed on the main process")
        return metrics

    def _validate_here(self, done: int, log: RunLog | SilentLog) -> dict[str, float] | None:
        metrics = None
        if self.validator is not None:
            metrics = self.validator.run(self._export_net(), self.folder.samples, done)
            log.record({"iteration": done, "val.psnr": metrics["psnr"], "val.ssim": metrics["ssim"]})
            log.message(f"iteration {done}: validation PSNR {metrics['psnr']:.3f} dB, "
                        f"SSIM {metrics['ssim']:.4f}")
            bicubic = self.validator.bicubic_scores()
            self.last_validation = {"iteration": done, "psnr": metrics["psnr"],
                                    "ssim": metrics["ssim"], "set": self.config.val,
                                    "bicubic_psnr": bicubic["psnr"], "bicubic_ssim": bicubic["ssim"]}
            if done > 0 and (self.best_psnr is None or metrics["psnr"] > self.best_psnr):
                self.best_psnr = metrics["psnr"]
                save_weights(self._export_net(), self.folder.best,
                             config=self.record, extras=self.recipe.export_extras(),
                             validation=self.last_validation)
        return metrics

    def _check_weights(self, done: int) -> None:
        """Refuse to save (or call good) weights that are non-finite or exploded."""
        nets = {name: unwrap(net) for name, net in self.recipe.nets.items()}
        if self.ema is not None:
            nets.update({f"ema.{name}": shadow for name, shadow in self.ema.shadows.items()})
        problem = weight_problem(nets)
        if problem is None:
            return
        kept = (f"the last good checkpoint is in {self.checkpoints}"
                if has_checkpoint(self.checkpoints) else "no checkpoint was written yet")
        raise SrkitError(f"weights diverged at iteration {done} ({problem}); training stopped "
                         f"without saving them, {kept} (try a lower --learning-rate)")

    def _save(self, done: int) -> None:
        self._check_weights(done)
        failure = None
        every_rank = distributed.gather_objects(capture_rank_rng(), self.info)
        if self.info.is_main:
            try:
                tensors, state = gather_state(self.recipe, self.ctx, self.ema)
                add_rank_rng(tensors, state, every_rank)
                state.update(config=self.record, best_psnr=self.best_psnr,
                             validation=self.last_validation,
                             sampler={"next_step": done, "world_size": self.info.world_size})
                write_checkpoint(self.checkpoints, done, tensors, state, keep=self.config.keep)
                validated = self.last_validation
                if validated is not None and validated["iteration"] != done:
                    validated = None  # a result of earlier weights does not describe these
                save_weights(self._export_net(), self.folder.model, config=self.record,
                             extras=self.recipe.export_extras(), validation=validated,
                             training={"iteration": done, "iters": self.config.iters,
                                       "stopped_by": self.stopped_by})
            except OSError as exc:
                failure = self._write_failure(done, exc)
        self._stop_together(failure, "the main process could not write the checkpoint")

    def _write_failure(self, done: int, exc: OSError) -> SrkitError:
        """The one-line error of a failed save: why, and which checkpoint is still intact."""
        reason = exc.strerror or str(exc)
        try:
            kept = read_checkpoint_state(self.checkpoints).get("iteration")
        except SrkitError:
            kept = None
        intact = (f"the checkpoint of iteration {kept} in {self.checkpoints} is intact; free space "
                  "and continue with --resume" if kept is not None
                  else "no checkpoint was written yet")
        return SrkitError(f"{self.out}: could not write at iteration {done} ({reason}); {intact}")

    def _stop_together(self, failure: SrkitError | None, elsewhere: str) -> None:
        """Raise ``failure`` here and a one-line error on every other process (a collective)."""
        if distributed.any_true(failure is not None, self.info, self.device):
            raise failure or SrkitError(f"training stopped: {elsewhere}")
