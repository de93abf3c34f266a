"""``srkit convert``: foreign checkpoints (official releases, other repositories) to srkit weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

_BASE_NAMES = ("src", "dst", "arch", "scale")


def _arch_option() -> click.Option:
    from srkit.weights.convert import installed_converters

    names = ", ".join(installed_converters()) or "none"
    return click.Option(["--arch"], default=None,
                        help=f"Converter to use instead of detecting the layout; installed: {names}.")


def _input_options() -> list[click.Option]:
    """One ``--NAME FILE`` option per further file a converter declares (DRN's ``--dual``)."""
    from srkit.weights.convert import installed_converters

    readers: dict[str, list[str]] = {}
    helps: dict[str, str] = {}
    for name, converter in installed_converters().items():
        for item in converter.inputs:
            if item.name not in _BASE_NAMES:
                readers.setdefault(item.name, []).append(name)
                helps.setdefault(item.name, item.help)
    return [click.Option([f"--{key}", key], default=None, type=click.Path(path_type=Path),
                         help=f"{', '.join(names)}: {helps[key]}") for key, names in readers.items()]


class ConvertCommand(click.Command):
    """Options depend on the installed converters, so they are built when first needed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built: tuple[object, list[click.Parameter]] | None = None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        from srkit.plugins import get_registry

        registry = get_registry()
        if self._built is None or self._built[0] is not registry:
            base = [p for p in self.params if p.name != "arch"]
            self._built = (registry, [*base[:2], _arch_option(), *base[2:], *_input_options()])
        params = list(self._built[1])
        help_option = self.get_help_option(ctx)
        return params + [help_option] if help_option is not None else params


@click.command("convert", cls=ConvertCommand,
               short_help="Convert a foreign checkpoint into srkit safetensors.")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--arch", default=None, help="Converter to use instead of detecting the layout.")
@click.option("--scale", type=click.IntRange(min=1), default=None,
              help="Upscaling factor; checked against the weights when they record it.")
def command(src: Path, dst: Path, arch: str | None, scale: int | None, **inputs: Path | None) -> None:
    """Convert checkpoint SRC into srkit safetensors DST (loads with weights_only, never unpickles code).

    Without --arch, the layout is recognised by the installed converters. Weights may be nested
    under state_dict/params/params_ema and carry module./_orig_mod. prefixes.
    """
    from srkit.weights.convert import convert_checkpoint

    extra = {name: path for name, path in inputs.items() if path is not None}
    converted = convert_checkpoint(src, dst, arch=arch, scale=scale, extra_files=extra)
    if arch is None:
        click.echo(f"{src}: recognised as {converted.converter} weights", err=True)
    n_extra = sum(len(v) for v in converted.extras.values())
    extras_note = f" + {n_extra} tensors of {', '.join(converted.extras)}" if n_extra else ""
    shown_scale = converted.kwargs.get("scale", scale)
    click.echo(f"wrote {dst}: {converted.kind} {converted.arch}"
               f"{f' x{shown_scale}' if shown_scale else ''}, "
               f"{len(converted.state_dict)} tensors{extras_note}")
