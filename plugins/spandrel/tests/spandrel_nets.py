"""Random-weight networks built with spandrel's own architecture classes (tiny configurations)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn


def _esrgan() -> nn.Module:
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(num_filters=8, num_blocks=1, scale=4)


def _swinir() -> nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(upscale=2, embed_dim=12, depths=[1], num_heads=[2], window_size=4, img_size=16,
                  upsampler="pixelshuffledirect", mlp_ratio=2.0)


def _span() -> nn.Module:
    from spandrel.architectures.SPAN import SPAN

    return SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4)


#: architecture id -> (builder, scale)
NETWORKS: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "ESRGAN": (_esrgan, 4), "SwinIR": (_swinir, 2), "SPAN": (_span, 4),
}


def random_network(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    network = NETWORKS[name][0]().eval()
    with torch.no_grad():  # non-trivial values everywhere, not only the default initialisation
        for parameter in network.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return network


def save_checkpoint(network: nn.Module, path: Path, nest: str | None = None) -> Path:
    state = network.state_dict()
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save({nest: state} if nest else state, path)
    return path


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``srkit ARGV`` run in-process."""
    from srkit.testing import srkit_main

    try:
        srkit_main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(capsys: Any, *argv: str) -> str:
    """The single ``error: ...`` line of a command that must fail with status 2."""
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (code, err)
    return err
