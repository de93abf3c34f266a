"""The validation a weights file carries, read against bicubic on the same set.

Training stores its last validation in the file's metadata (``validation``: PSNR/SSIM on the
validation set, with bicubic's PSNR/SSIM on that set and the iteration); ``srkit info``,
``bench`` and ``upscale`` read it from the header alone, so a model that does worse than the
baseline is named before anyone trusts its output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from srkit.errors import SrkitError


def read_carried_validation(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``validation`` entry of an srkit weights file; None for files without one (foreign
    checkpoints, weights saved outside training)."""
    from srkit.weights.files import decode_metadata, read_header
    from srkit.weights.model_files import is_srkit_weights

    if not Path(path).is_file() or not is_srkit_weights(path):
        return None
    try:
        metadata, _ = read_header(path)
        return decode_metadata(metadata, str(path))["validation"]
    except SrkitError:
        return None  # an unreadable file is reported by the command that loads it


def _scores(validation: dict[str, Any], prefix: str = "") -> tuple[float, float] | None:
    psnr, ssim = validation.get(f"{prefix}psnr"), validation.get(f"{prefix}ssim")
    if isinstance(psnr, (int, float)) and isinstance(ssim, (int, float)):
        return float(psnr), float(ssim)
    return None


def validation_text(validation: dict[str, Any]) -> str:
    """``PSNR 28.780 dB, SSIM 0.8165 on set5 at iteration 2000; bicubic 28.418 dB, 0.8102 (+0.362 dB)``."""
    own = _scores(validation) or (float("nan"), float("nan"))
    text = (f"PSNR {own[0]:.3f} dB, SSIM {own[1]:.4f} on {validation.get('set', '?')} at "
            f"iteration {validation.get('iteration', '?')}")
    bicubic = _scores(validation, "bicubic_")
    if bicubic is not None:
        text += (f"; bicubic {bicubic[0]:.3f} dB, {bicubic[1]:.4f} "
                 f"({own[0] - bicubic[0]:+.3f} dB)")
    return text


def below_bicubic_warning(source: str | os.PathLike[str], validation: dict[str, Any] | None
                          ) -> str | None:
    """One line when the carried validation PSNR is below bicubic's on the same set, else None."""
    if not validation:
        return None
    own, bicubic = _scores(validation), _scores(validation, "bicubic_")
    if own is None or bicubic is None or not own[0] < bicubic[0]:
        return None
    return (f"warning: {source} scores below bicubic on its validation set "
            f"{validation.get('set', '?')} ({own[0]:.2f} dB against {bicubic[0]:.2f} dB at "
            f"iteration {validation.get('iteration', '?')}): train it longer or check its data")
