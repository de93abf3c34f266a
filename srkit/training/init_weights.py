"""``--init FILE``: start a run from exported weights, the generator and its extra modules.

This is the one place that reads ``--init``: the scale of a run comes from the file when
``--scale`` is not given, and every module the file holds (the generator, and extras such as
DRN's ``dual`` models) is loaded here by name, after the architecture and scale are checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from srkit.errors import SrkitError, first_informative_line
from srkit.interfaces import Recipe
from srkit.nn.models import describe, unwrap
from srkit.weights.files import split_extras
from srkit.weights.model_files import model_file_scale, read_model_file


def scale_from_init(path: str, chosen_scale: int | None) -> int | None:
    """The run's scale given ``--init path``: the file's own, or an error if ``--scale`` differs.

    Returns None when the file does not record its scale (the recipe's default then applies).
    """
    file_scale = model_file_scale(path)
    if chosen_scale is not None and file_scale is not None and chosen_scale != file_scale:
        raise SrkitError(f"{path}: weights are for x{file_scale}, not --scale {chosen_scale}; "
                         "leave out --scale to train at the file's scale")
    return file_scale if chosen_scale is None else chosen_scale


def load_init_weights(path: Path, recipe: Recipe, recipe_name: str) -> list[str]:
    """Load the generator and every extra module the file holds into ``recipe``'s networks.

    Extras are matched by name against the recipe's ``export_extras()`` and ``nets``, so a run
    that does not export a module (``--no-save-dual``) still starts it from the file. Returns
    the names of the modules loaded.
    """
    tensors, info = read_model_file(path)  # srkit weights, or a checkpoint a converter reads
    generator = recipe.nets["generator"]
    arch, kwargs = describe(generator)
    if info["arch"] != arch:
        raise SrkitError(f"{path}: weights are for architecture {info['arch']!r}, "
                         f"recipe {recipe_name!r} trains {arch!r}")
    if info["scale"] != kwargs.get("scale"):
        raise SrkitError(f"{path}: weights are for x{info['scale']}, not x{kwargs.get('scale')}")
    state, extras = split_extras(tensors, info["extras"])
    _load(generator, state, path, f"this {arch!r} generator")
    loaded = ["generator"]
    modules = {**recipe.nets, **recipe.export_extras()}
    for prefix, extra_state in extras.items():
        module = modules.get(prefix)
        if module is not None and extra_state:
            _load(module, extra_state, path, f"the {prefix!r} module of {recipe_name!r}")
            loaded.append(prefix)
    return loaded


def _load(module: nn.Module, state: dict[str, Any], path: Path, what: str) -> None:
    try:
        unwrap(module).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise SrkitError(f"{path}: weights do not fit {what} ({first_informative_line(exc)})"
                         ) from None
