"""``srkit train RECIPE``: one subcommand per registered recipe, options from its config class."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from srkit.config import Derived, rename_warning
from srkit.errors import SrkitError
from srkit.plugins import get_registry
from srkit.run_folder import RunFolder
from srkit.training.config_io import (
    FieldSpec,
    check_config,
    check_file_values,
    current_names,
    field_specs,
    read_config_file,
)

_CLICK_TYPES: dict[type, click.ParamType] = {int: click.INT, float: click.FLOAT, str: click.STRING}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _click_option(spec: FieldSpec) -> click.Option:
    # defaults stay None so a value given explicitly is distinguishable from a default
    if spec.kind is bool:
        return click.Option([f"{_flag(spec.name)}/--no-{spec.name.replace('_', '-')}", spec.name],
                            default=None, help=f"{spec.help} [default: {spec.default}]")
    if spec.choices:
        kind: click.ParamType = click.Choice(spec.choices)
    elif spec.path is not None:  # a path the run reads or writes: FILE or DIRECTORY in --help
        kind = click.Path(file_okay=spec.path == "file", dir_okay=spec.path == "dir")
    else:
        kind = _CLICK_TYPES[spec.kind]
    shown = "" if spec.default in (None, "") else f" [default: {spec.default}]"
    return click.Option([_flag(spec.name), spec.name], type=kind, default=None,
                        metavar=spec.metavar, help=spec.help + shown)


def _renamed_flag(spec: FieldSpec, old: str) -> click.Option:
    """A hidden flag under an option's earlier name; :func:`given_flags` maps it to the new one."""
    if spec.kind is bool:
        return click.Option([f"{_flag(old)}/--no-{old.replace('_', '-')}", _renamed_param(old)],
                            default=None, hidden=True)
    kind = click.Choice(spec.choices) if spec.choices else _CLICK_TYPES.get(spec.kind, click.STRING)
    return click.Option([_flag(old), _renamed_param(old)], type=kind, default=None, hidden=True)


def _renamed_param(old: str) -> str:
    return f"renamed_{old}"


def given_flags(specs: list[FieldSpec], ctx: click.Context) -> dict[str, Any]:
    """The options given on the command line, by field name; earlier flag names map to the new."""
    def given(param: str) -> bool:
        return (ctx.params.get(param) is not None
                and ctx.get_parameter_source(param) == click.core.ParameterSource.COMMANDLINE)

    flags = {s.name: ctx.params[s.name] for s in specs if given(s.name)}
    for spec in specs:
        for old in spec.renamed_from:
            if not given(_renamed_param(old)):
                continue
            if spec.name in flags:
                raise SrkitError(f"{_flag(old)} and {_flag(spec.name)} are the same option; give one")
            rename_warning("", old, spec.name, flag=True)
            flags[spec.name] = ctx.params[_renamed_param(old)]
    return flags


def preset_values(recipe: str, config_class: type, preset: str | None) -> dict[str, Any]:
    """The typed option values of ``--preset NAME`` (empty without one)."""
    if preset is None:
        return {}
    presets = getattr(config_class, "presets", {})
    if preset not in presets:
        known = ", ".join(sorted(presets)) or "none"
        raise SrkitError(f"recipe {recipe!r} has no preset {preset!r} (presets: {known})")
    values = presets[preset][1]
    # a Derived value (e.g. "half of --iters") is computed with the user's flags, not checked here
    derived = {key: value for key, value in values.items() if isinstance(value, Derived)}
    fixed = {key: value for key, value in values.items() if key not in derived}
    return {**check_file_values(config_class, fixed, f"preset {preset!r}", recipe), **derived}


def effective_config(recipe: str, config_class: type, ctx: click.Context,
                     config_file: str | None, preset: str | None = None) -> Any:
    """Flags given explicitly > config file > preset > checkpoint config (with --resume) > defaults.

    Options left unset take the config class's defaults, derived ones computed from the rest.
    """
    specs = field_specs(config_class)
    flags = given_flags(specs, ctx)
    from_file = {}
    if config_file is not None:
        from_file = check_file_values(config_class, read_config_file(config_file), config_file, recipe)
    chosen = {**preset_values(recipe, config_class, preset), **from_file, **flags}
    recipe_class = get_registry().get("recipe", recipe)
    check_config(config_class(**chosen), recipe_class)  # before reading any checkpoint
    if chosen.get("resume"):
        chosen = {**_checkpoint_values(recipe, config_class, chosen), **chosen}
    elif chosen.get("init"):
        from srkit.training.state import scale_from_init

        scale = scale_from_init(chosen["init"], chosen.get("scale"))
        if scale is not None:
            chosen["scale"] = scale
    config = config_class(**chosen)
    if config.out is None:
        config = dataclasses.replace(config, out=str(RunFolder.default(recipe, config.scale).root))
    check_config(config, recipe_class)
    return config


def _checkpoint_values(recipe: str, config_class: type, chosen: dict[str, Any]) -> dict[str, Any]:
    """The resumed run's saved config (minus run-control keys), so ``--resume`` needs few flags."""
    from srkit.training.state import read_checkpoint_state

    scale = chosen.get("scale", config_class().scale)
    out = Path(chosen.get("out") or RunFolder.default(recipe, scale).root)
    saved = current_names(config_class, read_checkpoint_state(RunFolder(out).checkpoints).get("config", {}))
    fields = {f.name for f in dataclasses.fields(config_class)}
    skip = {"resume", "init", "out", "recipe"}
    return {k: v for k, v in saved.items() if k in fields and k not in skip}


def _make_command(name: str) -> click.Command:
    recipe_class = get_registry().get("recipe", name)
    config_class = recipe_class.config_class
    specs = field_specs(config_class)
    params: list[click.Parameter] = [_click_option(spec) for spec in specs]
    params += [_renamed_flag(spec, old) for spec in specs for old in spec.renamed_from]
    params.append(click.Option(["--config", "config_file"], type=click.Path(dir_okay=False),
                               default=None, help="TOML or YAML file of options (flags win)"))
    presets = getattr(config_class, "presets", {})
    if presets:
        listed = "; ".join(f"{key}: {text}" for key, (text, _) in presets.items())
        params.append(click.Option(["--preset"], type=click.Choice(sorted(presets)), default=None,
                                   help=f"named option set (the file and flags win): {listed}"))

    @click.pass_context
    def callback(ctx: click.Context, config_file: str | None, preset: str | None = None,
                 **_: Any) -> None:
        from srkit.training.trainer import train

        config = effective_config(name, config_class, ctx, config_file, preset)
        result = train(name, recipe_class, config)
        if result.last_metrics is not None:
            click.echo(f"done: {result.out / 'model.safetensors'} (validation PSNR "
                       f"{result.last_metrics['psnr']:.3f} dB, SSIM "
                       f"{result.last_metrics['ssim']:.4f})")

    description = getattr(recipe_class, "description", "") or f"Train the {name} recipe."
    return click.Command(name, params=params, callback=callback, help=description,
                         short_help=description, epilog=RECIPE_EPILOG)


class RecipeGroup(click.Group):
    """Subcommands are the registered recipes, built only when asked for (plugins load lazily)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return get_registry().names("recipe")

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        registry = get_registry()
        if cmd_name not in registry.names("recipe"):
            known = ", ".join(registry.names("recipe")) or "none"
            raise SrkitError(f"unknown recipe {cmd_name!r}; installed: {known}")
        return _make_command(cmd_name)


RECIPE_EPILOG = ("Curves of a run: srkit plot OUT (pip install 'srkit[plot]'); TensorBoard: pip "
                 "install 'srkit[tensorboard]', then tensorboard --logdir OUT.")

TRAIN_HELP = """Train a model: srkit train RECIPE [options].

Each recipe lists its options with 'srkit train RECIPE --help'. Under torchrun, runs one
process per GPU (DDP).

A run folder (--out, default runs/RECIPE_xSCALE) holds model.safetensors (the weights to use),
config.toml, log.jsonl, samples/ (bicubic | SR | HR strips) and checkpoints/ (the newest
--keep of them, 2 by default). Curves: 'srkit plot RUN' writes a PNG (needs the plot extra:
pip install 'srkit[plot]'); with the tensorboard extra (pip install 'srkit[tensorboard]') every
run also logs to TensorBoard: tensorboard --logdir RUN.
"""

command = RecipeGroup("train", help=TRAIN_HELP, short_help="Train a model (one subcommand per recipe).")
