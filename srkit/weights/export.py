"""Writing srkit weights for other tools: the foreign layout a plugin owns, or an ONNX graph.

``official`` is a per-plugin capability: the converter that reads a layout may provide its
inverse (``Converter.export``), so the plugin that knows the layout also writes it. ``onnx``
works for any generator: the graph takes (N,3,H,W) RGB in [0,1] with dynamic N, H and W, and is
checked with onnxruntime against the PyTorch output on two input sizes before it is kept.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from srkit.errors import SrkitError

#: LR sizes (height, width) the ONNX graph is checked on; odd sizes catch padding/cropping bugs.
ONNX_CHECK_SIZES = ((24, 32), (19, 27))
ONNX_OPSET = 17
EXPORT_HINT = "pip install 'srkit[export]'"


def exporter_for(arch: str) -> tuple[str, Callable[..., dict[str, Any]]]:
    """``(converter name, export function)`` of the plugin that writes ``arch`` in its foreign layout."""
    from srkit.weights.convert import installed_converters

    found = [(name, c.export) for name, c in installed_converters().items()
             if c.export is not None and (c.arch or name) == arch]
    if not found:
        able = sorted((c.arch or name) for name, c in installed_converters().items() if c.export)
        raise SrkitError(f"no installed plugin writes {arch!r} weights in a foreign layout "
                         f"(official export exists for: {', '.join(able) or 'none'}); try --format onnx")
    return found[0]


def export_official(weights: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[Path]:
    """Write the srkit weights file ``weights`` in the layout of the architecture's original release.

    Returns the files written: ``out``, plus ``<out stem><suffix><out suffix>`` for each further
    file of the release (DRN's ``_dual_model``).
    """
    from srkit.weights.files import decode_metadata, read_weights, split_extras

    tensors, metadata = read_weights(weights)
    info = decode_metadata(metadata)
    _, export = exporter_for(info["arch"])
    state, extras = split_extras(tensors, info["extras"])
    files = export(state, info["kwargs"], extras)
    out = Path(out)
    written = []
    for suffix, payload in files.items():
        target = out if not suffix else out.with_name(out.name[: len(out.name) - len(out.suffix)]
                                                      + suffix + out.suffix)
        _save_payload(payload, target)
        written.append(target)
    return written


def _save_payload(payload: Any, target: Path) -> None:
    """torch files for .pth/.pt/.tar (loadable with weights_only=True), flat safetensors otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        if target.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in _flatten(payload).items()}, tmp)
        else:
            torch.save(payload, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _flatten(payload: Any, prefix: str = "") -> dict[str, Tensor]:
    if isinstance(payload, Tensor):
        return {prefix.rstrip("."): payload}
    items = payload.items() if isinstance(payload, dict) else enumerate(payload)
    flat: dict[str, Tensor] = {}
    for key, value in items:
        flat.update(_flatten(value, f"{prefix}{key}."))
    return flat


def export_onnx(weights: str | os.PathLike[str], out: str | os.PathLike[str], *,
                opset: int = ONNX_OPSET) -> dict[tuple[int, int], float]:
    """Write the generator of any model file as ONNX and check it with onnxruntime.

    Returns the largest absolute difference to PyTorch for each checked LR size; an error if
    onnxruntime disagrees by more than 1e-3 (a graph that would silently compute something else).
    """
    try:
        import onnxruntime
    except ImportError:
        raise SrkitError(f"--format onnx needs onnx and onnxruntime: {EXPORT_HINT}") from None
    from srkit.weights.model_files import load_model_file

    model = _LrToSr(load_model_file(weights).float()).eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sample = torch.rand(1, 3, *ONNX_CHECK_SIZES[0], generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape arithmetic, exporter deprecations
        try:
            torch.onnx.export(model, (sample,), str(out), input_names=["lr"], output_names=["sr"],
                              dynamic_axes={"lr": {0: "batch", 2: "height", 3: "width"},
                                            "sr": {0: "batch", 2: "out_height", 3: "out_width"}},
                              opset_version=opset, dynamo=False)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SrkitError(f"{weights}: the model cannot be exported to ONNX ({reason})") from None
    return check_onnx(model, out, onnxruntime)


class _LrToSr(nn.Module):
    """The generator as exactly one tensor in, one tensor out (what an ONNX graph holds)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, lr: Tensor) -> Tensor:
        return self.generator(lr)


def check_onnx(model: nn.Module, path: Path, onnxruntime: Any) -> dict[tuple[int, int], float]:
    """Largest |onnxruntime - PyTorch| per LR size in :data:`ONNX_CHECK_SIZES`; raises beyond 1e-3."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    differences = {}
    for height, width in ONNX_CHECK_SIZES:
        lr = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height))
        with torch.no_grad():
            expected = model(lr)
        got = torch.from_numpy(session.run(None, {"lr": lr.numpy()})[0])
        if got.shape != expected.shape:
            raise SrkitError(f"{path}: ONNX output for a {width}x{height} input is {tuple(got.shape)}, "
                             f"PyTorch gives {tuple(expected.shape)}")
        differences[(height, width)] = float((got - expected).abs().max())
        if differences[(height, width)] > 1e-3:
            raise SrkitError(f"{path}: ONNX output differs from PyTorch by "
                             f"{differences[(height, width)]:.3g} on a {width}x{height} input")
    return differences
