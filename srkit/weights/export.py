"""Writing srkit weights for other tools: the foreign layout a plugin owns, or an ONNX graph.

``official`` is a per-plugin capability: the converter that reads a layout may provide its
inverse (``Converter.export``), so the plugin that knows the layout also writes it. ``onnx``
works for any generator: the graph takes (N,3,H,W) RGB in [0,1] with dynamic N, H and W, and is
checked with onnxruntime against the PyTorch output on two input sizes before it is kept.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from srkit.atomic_files import atomic_output, atomic_save_safetensors
from srkit.errors import SrkitError
from srkit.writable import check_output_file

#: suffixes of the files each format writes (official: torch files, or flat safetensors)
FORMAT_SUFFIXES = {"official": (".pth", ".pt", ".tar", ".safetensors"), "onnx": (".onnx",)}

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
    targets = {out if not suffix else out.with_name(out.name[: len(out.name) - len(out.suffix)]
                                                    + suffix + out.suffix): payload
               for suffix, payload in files.items()}
    for target in targets:  # all of them before the first is written
        check_output_file(target, "OUT", inputs=[weights],
                          suffixes=FORMAT_SUFFIXES["official"])
    for target, payload in targets.items():
        try:
            _save_payload(payload, target)
        except OSError as exc:
            raise _write_error(target, exc) from None
    return list(targets)


def _write_error(target: Path, exc: OSError) -> SrkitError:
    return SrkitError(f"{target}: cannot write ({exc.strerror or exc}); a previous file of "
                      "that name is left as it was")


def _save_payload(payload: Any, target: Path) -> None:
    """torch files for .pth/.pt/.tar (loadable with weights_only=True), flat safetensors otherwise."""
    if target.suffix == ".safetensors":
        atomic_save_safetensors(_flatten(payload), target)
        return
    with atomic_output(target) as tmp:
        torch.save(payload, tmp)


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

    out = Path(out)
    check_output_file(out, "OUT", inputs=[weights], suffixes=FORMAT_SUFFIXES["onnx"])
    model = _LrToSr(load_model_file(weights).float()).eval()
    sample = torch.rand(1, 3, *ONNX_CHECK_SIZES[0], generator=torch.Generator().manual_seed(0))
    try:
        return _export_checked(model, sample, out, weights, opset, onnxruntime)
    except OSError as exc:
        raise _write_error(out, exc) from None


def _export_checked(model: nn.Module, sample: Tensor, out: Path, weights: str | os.PathLike[str],
                    opset: int, onnxruntime: Any) -> dict[tuple[int, int], float]:
    """Export and check under a temp name: a full disk, or a graph onnxruntime disagrees with,
    leaves the previous file at ``out`` untouched."""
    with atomic_output(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape arithmetic, exporter deprecations
        try:
            torch.onnx.export(model, (sample,), str(tmp), input_names=["lr"], output_names=["sr"],
                              dynamic_axes={"lr": {0: "batch", 2: "height", 3: "width"},
                                            "sr": {0: "batch", 2: "out_height", 3: "out_width"}},
                              opset_version=opset, dynamo=False)
        except OSError:
            raise
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SrkitError(f"{weights}: the model cannot be exported to ONNX ({reason})") from None
        return check_onnx(model, tmp, onnxruntime, name=out)


class _LrToSr(nn.Module):
    """The generator as exactly one tensor in, one tensor out (what an ONNX graph holds)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, lr: Tensor) -> Tensor:
        return self.generator(lr)


def check_onnx(model: nn.Module, path: Path, onnxruntime: Any,
               name: Path | None = None) -> dict[tuple[int, int], float]:
    """Largest |onnxruntime - PyTorch| per LR size in :data:`ONNX_CHECK_SIZES`; raises beyond 1e-3.

    ``name`` is the path errors mention (``path`` may be the temp file it is checked under).
    """
    shown = name if name is not None else path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    differences = {}
    for height, width in ONNX_CHECK_SIZES:
        lr = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height))
        with torch.no_grad():
            expected = model(lr)
        got = torch.from_numpy(session.run(None, {"lr": lr.numpy()})[0])
        if got.shape != expected.shape:
            raise SrkitError(f"{shown}: ONNX output for a {width}x{height} input is {tuple(got.shape)}, "
                             f"PyTorch gives {tuple(expected.shape)}")
        differences[(height, width)] = float((got - expected).abs().max())
        if differences[(height, width)] > 1e-3:
            raise SrkitError(f"{shown}: ONNX output differs from PyTorch by "
                             f"{differences[(height, width)]:.3g} on a {width}x{height} input")
    return differences
