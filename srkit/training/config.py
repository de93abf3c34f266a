"""Training configuration: a typed dataclass per recipe, loadable from TOML/YAML, set by flags."""

from __future__ import annotations

from dataclasses import dataclass, field


def option(default, help: str, **extra):  # noqa: A002 - mirrors click's keyword
    """A config field with the help text its ``srkit train`` flag shows.

    ``extra`` metadata, checked for every recipe before a run starts
    (:func:`srkit.training.checks.check_config`): ``choices=(...)`` restricts the value;
    ``min=`` / ``max=`` bound a number (inclusive unless ``min_exclusive=True`` /
    ``max_exclusive=True``). Numbers must also be finite. A subclass re-declaring a field without
    bounds keeps the bounds of the field it overrides. Shown by the CLI: ``path="file"`` or
    ``path="dir"`` marks a path (shown as FILE or DIRECTORY), ``metavar="..."`` names the value in
    ``--help``.
    """
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    """Options shared by every recipe. A recipe subclasses this to add its own fields."""

    data: str | None = option(None, "HR image folder (default: the bundled demo photos)",
                              path="dir")
    data_lr: str | None = option(
        None, "LR folder paired with --data (same names or DIV2K-style 0001x4.png)", path="dir")
    val: str = option("set5", "validation set: a bundled name (set5, set14) or an HR folder",
                      metavar="NAME|DIRECTORY")
    scale: int = option(4, "upscaling factor", min=1, max=64)
    iters: int = option(1000, "training iterations", min=1)
    batch_size: int = option(16, "batch size per process", min=1)
    patch_size: int = option(96, "HR crop size in pixels", min=1)
    lr: float = option(1e-4, "learning rate", min=0, min_exclusive=True, max=1)
    lr_schedule: str = option("constant", "constant, multistep or cosine",
                              choices=("constant", "multistep", "cosine"))
    lr_milestones: str = option(
        "", "multistep: comma-separated iterations where lr is multiplied by lr_gamma "
        "(default: halfway)")
    lr_gamma: float = option(0.1, "multistep: factor at each milestone", min=0,
                              min_exclusive=True, max=1)
    lr_min: float = option(1e-7, "cosine: final learning rate", min=0, max=1)
    degradation: str = option("bicubic", "degradation that makes LR from HR crops")
    out: str | None = option(None, "run folder (default: runs/<recipe>_x<scale>)", path="dir")
    seed: int = option(0, "random seed", min=0)
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps", metavar="DEVICE")
    resume: bool = option(False, "resume from the latest checkpoint in --out")
    init: str | None = option(
        None, "start from these srkit weights (.safetensors; its scale is used when --scale is "
        "not given)", path="file")
    save_every: int = option(500, "write a checkpoint every N iterations", min=1)
    keep: int = option(2, "keep only the newest K checkpoints in OUT/checkpoints (older ones "
                       "are deleted; model.safetensors and best.safetensors are always kept)", min=1)
    val_every: int = option(500, "validate every N iterations (0 = only at the end)", min=0)
    log_every: int = option(10, "log losses every N iterations", min=1)
    amp: str = option("off", "mixed precision: off, bf16 or fp16", choices=("off", "bf16", "fp16"))
    channels_last: bool = option(False, "use channels_last memory format")
    compile: bool = option(False, "torch.compile the networks")
    ema: float = option(0.0, "EMA decay of generator weights (0 = off)", min=0, max=1,
                        max_exclusive=True)
    grad_clip: float = option(0.0, "clip gradient norm (0 = off)", min=0)
    workers: int = option(2, "data loader worker processes", min=0)
