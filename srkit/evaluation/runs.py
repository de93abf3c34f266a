"""Which weights ``srkit bench`` scores each model with: ``--weights``, or the run folders.

A model without ``--weights`` is benchmarked with the newest ``model.safetensors`` of its run
folders (``runs/<name>*``) that fits the scale; parameter-free models need none.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from srkit.errors import SrkitError
from srkit.nn.models import parameter_free_generators
from srkit.run_folder import RunFolder


def parse_weights_option(text: str | None) -> dict[str, list[Path]]:
    """``"srgan=a.safetensors,drn=b.safetensors"`` -> ``{"srgan": [a], "drn": [b]}``.

    A name may appear more than once (one file per scale); the file matching the scale is used.
    """
    pairs: dict[str, list[Path]] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, file = item.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise SrkitError(f"--weights {item!r}: expected NAME=FILE (e.g. srgan=model.safetensors)")
        pairs.setdefault(name.strip().lower(), []).append(Path(file.strip()).expanduser())
    return pairs


def installed_model_names() -> list[str]:
    """Every name ``--models`` accepts without ``--weights``: generators and recipes."""
    from srkit.plugins import get_registry

    registry = get_registry()
    return sorted(set(registry.names("generator")) | set(registry.names("recipe")))


def train_command(name: str, scale: int) -> str:
    """The ``srkit train`` command a hint suggests for ``name``: with the arguments its recipe
    needs on a fresh install (:attr:`Recipe.first_run_args`), so it works as given."""
    from srkit.plugins import get_registry

    registry = get_registry()
    extra = registry.get("recipe", name).first_run_args if name in registry.names("recipe") else ()
    return " ".join(["srkit train", name, "--scale", str(scale), *extra])


def run_weights(name: str, runs_dir: Path) -> list[Path]:
    """``<runs_dir>/<name>*/model.safetensors`` files, newest first."""
    if not runs_dir.is_dir():
        return []
    found = [p for p in (RunFolder(d).model for d in runs_dir.glob(f"{name}*")) if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def default_models(weights: dict[str, list[Path]], runs_dir: Path, scales: list[int]
                   ) -> list[str]:
    """The parameter-free models (bicubic), the models given ``--weights``, and every installed
    one whose run folders hold weights for all ``scales`` (a run for another scale is no reason
    to fail)."""
    names = [*parameter_free_generators(), *weights]
    for name in installed_model_names():
        found = run_weights(name, runs_dir)
        if name not in names and found:
            found_scales = {_scale_of_run_weights(path) for path in found}
            if None in found_scales or set(scales) <= found_scales:
                names.append(name)
    return list(dict.fromkeys(names))


def _scale_of_run_weights(path: Path) -> int | None:
    """The file's scale (None if unrecorded); -1 for an unreadable file, which is skipped with a
    warning that names it and why."""
    try:
        return _weights_scale(path)
    except SrkitError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        warnings.warn(f"{path}: skipped, its weights are unreadable ({reason})", stacklevel=2)
        return -1


def _weights_scale(path: Path) -> int | None:
    from srkit.weights.model_files import model_file_scale

    return model_file_scale(path)


def select_weights(name: str, scale: int, weights: dict[str, list[Path]], runs_dir: Path
                   ) -> Path | None:
    """The weights file benchmarked as ``name`` at ``scale``: from ``weights`` (``--weights``)
    or else the newest run in ``runs_dir``; None for parameter-free models.

    Raises a one-line error if no file is found, or if every candidate is for another scale.
    """
    given = weights.get(name)
    candidates = given if given is not None else run_weights(name, runs_dir)
    if not candidates:
        if name in parameter_free_generators():
            return None
        if name not in installed_model_names():
            raise SrkitError(
                f"unknown model {name!r}; installed: {', '.join(installed_model_names())} "
                "(or pass --weights NAME=FILE)"
            )
        raise SrkitError(
            f"{name}: no weights found in {RunFolder(runs_dir / (name + '*')).model}; "
            f"pass --weights {name}=FILE or train one with '{train_command(name, scale)}'"
        )
    scales = [_weights_scale(path) for path in candidates]
    for path, file_scale in zip(candidates, scales, strict=True):
        if file_scale in (None, scale):
            return path
    if len(candidates) == 1:
        raise SrkitError(f"{candidates[0]}: weights are for x{scales[0]}, not x{scale}")
    found = ", ".join(f"{p} (x{s})" for p, s in zip(candidates, scales, strict=True))
    raise SrkitError(f"{name}: no weights for x{scale}; found {found}")


def check_weights_found(models: list[str], weights: dict[str, list[Path]], runs_dir: Path,
                        scales: list[int]) -> None:
    """Name every model without weights at once, each with the command that trains it."""
    installed, free = installed_model_names(), parameter_free_generators()
    unknown = [n for n in models if n not in free and n not in weights and n not in installed]
    if unknown:
        raise SrkitError(f"unknown model {unknown[0]!r}; installed: {', '.join(installed)} "
                         "(or pass --weights NAME=FILE)")
    missing = [n for n in models if n not in free and n not in weights
               and not run_weights(n, runs_dir)]
    if not missing:
        return
    commands = "; ".join(f"'{train_command(n, s)}'" for n in missing for s in scales)
    raise SrkitError(f"no weights found for {', '.join(missing)} in "
                     f"{RunFolder(runs_dir / 'NAME*').model}; train them ({commands}) "
                     "or pass --weights NAME=FILE")


def check_model(name: str, scale: int, weights: Path | None) -> None:
    """Refuse what :func:`build_model` would refuse, without building the generator for real
    (a meta-device skeleton stands in), so every planned model is checked in little memory."""
    from srkit.weights.check import build_on_meta

    if weights is None:
        from srkit.nn.models import build_generator

        build_on_meta(lambda: build_generator(name, scale=scale))
        return
    from srkit.weights.model_files import check_model_file

    _check_scale(check_model_file(weights, scale=scale), weights, scale)


def build_model(name: str, scale: int, weights: Path | None, device: torch.device) -> nn.Module:
    """The generator benchmarked as ``name``: from ``weights``, or built for parameter-free ones."""
    if weights is None:
        from srkit.nn.models import build_generator

        return build_generator(name, scale=scale).to(device).eval()
    from srkit.weights.model_files import load_model_file

    return _check_scale(load_model_file(weights, device, scale=scale), weights, scale)


def _check_scale(model: nn.Module, weights: Path, scale: int) -> nn.Module:
    """``model``, once it is found to upscale by ``scale`` (a file may not record its scale)."""
    if getattr(model, "scale", scale) != scale:
        raise SrkitError(f"{weights}: model upscales x{model.scale}, not x{scale}")
    return model
