"""Training configuration: a typed dataclass per recipe, loadable from TOML/YAML, set by flags."""

from __future__ import annotations

from dataclasses import dataclass, field


def option(default, help: str, **extra):  # noqa: A002 - mirrors click's keyword
    """A config field with the help text its ``srkit train`` flag shows.

    ``extra`` metadata understood by the CLI: ``choices=(...)`` restricts the value.
    """
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    """Options shared by every recipe. A recipe subclasses this to add its own fields."""

    data: str | None = option(None, "HR image folder (default: the bundled demo photos)")
    data_lr: str | None = option(
        None, "LR folder paired with --data (same names or DIV2K-style 0001x4.png)")
    val: str = option("set5", "validation set: a bundled name (set5, set14) or an HR folder")
    scale: int = option(4, "upscaling factor")
    iters: int = option(1000, "training iterations")
    batch_size: int = option(16, "batch size per process")
    patch_size: int = option(96, "HR crop size in pixels")
    lr: float = option(1e-4, "learning rate")
    lr_schedule: str = option("constant", "constant, multistep or cosine",
                              choices=("constant", "multistep", "cosine"))
    lr_milestones: str = option(
        "", "multistep: comma-separated iterations where lr is multiplied by lr_gamma "
        "(default: halfway)")
    lr_gamma: float = option(0.1, "multistep: factor at each milestone")
    lr_min: float = option(1e-7, "cosine: final learning rate")
    degradation: str = option(
        "bicubic", "degradation that makes LR from HR crops: NAME or NAME:key=value,...")
    out: str | None = option(None, "run folder (default: runs/<recipe>_x<scale>)")
    seed: int = option(0, "random seed")
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps")
    resume: bool = option(False, "resume from the latest checkpoint in --out")
    init: str | None = option(None, "start from these generator weights (.safetensors)")
    save_every: int = option(500, "write a checkpoint every N iterations")
    val_every: int = option(500, "validate every N iterations (0 = only at the end)")
    log_every: int = option(10, "log losses every N iterations")
    amp: str = option("off", "mixed precision: off, bf16 or fp16", choices=("off", "bf16", "fp16"))
    channels_last: bool = option(False, "use channels_last memory format")
    compile: bool = option(False, "torch.compile the networks")
    ema: float = option(0.0, "EMA decay of generator weights (0 = off)")
    grad_clip: float = option(0.0, "clip gradient norm (0 = off)")
    workers: int = option(2, "data loader worker processes")
