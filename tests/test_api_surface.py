"""Plugins reach srkit through one versioned module, srkit.api, and docs/plugins.md documents it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import srkit.api as api

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FOLDERS = sorted([*ROOT.glob("plugins/*"), *ROOT.glob("examples/*")])

# The names of srkit.api at each API version. A change of the surface needs a new version (and a
# new entry here): plugins declare the version they were written for, and srkit refuses others.
_VERSION_1 = {
    "API_VERSION", "Batch", "Converted", "Converter", "ConverterInput", "Degradation", "Derived",
    "Generator", "LRCropDataset", "PixelConfig", "PixelRecipe", "Recipe", "Register", "SrkitError",
    "StepContext", "TrainConfig", "build_degradation", "build_discriminator", "build_generator",
    "by_scale", "check_hr_batch", "check_layout", "convert_checkpoint", "convert_state_dict",
    "count_parameters", "describe_model_file", "detect_layout", "export_official", "export_onnx",
    "gaussian_blur", "hookimpl", "hub_cache_path", "imresize", "load_features",
    "load_foreign_state_dict", "load_image",
    "load_model", "load_model_file", "load_module", "lookup", "make_lr", "make_lr_levels",
    "make_scheduler", "option", "pixel_step", "read_extras", "read_model_file",
    "read_pretrained_state", "run_folder", "save_image", "save_weights", "strip_prefixes",
    "weights_info",
}
#: each version as (names removed, names added) against the one before
_CHANGES = {
    2: ({"make_lr_levels", "run_folder"}, {"build_loss", "patch_size_hint", "RunFolder"}),
    3: (set(), {"GeneratorFacts", "SizeRequirements", "generator_facts"}),
    4: (set(), {"VGG19Features", "vgg19_layer_index"}),
}


def _surfaces() -> dict[int, set[str]]:
    surfaces = {1: _VERSION_1}
    for version, (removed, added) in sorted(_CHANGES.items()):
        surfaces[version] = (surfaces[version - 1] - removed) | added
    return surfaces


SURFACE = _surfaces()


def srkit_imports(source: str) -> list[str]:
    """Every srkit module ``source`` imports, at any depth (functions included)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [f"{node.module}.{alias.name}" if node.module == "srkit" else node.module
                      for alias in node.names]
    return [name for name in found if name == "srkit" or name.startswith("srkit.")]


def outside_the_api(source: str, allowed: tuple[str, ...]) -> list[str]:
    return [name for name in srkit_imports(source)
            if not any(name == a or name.startswith(a + ".") for a in allowed)]


def test_plugins_import_srkit_only_through_the_api() -> None:
    assert PLUGIN_FOLDERS
    offenders = []
    for folder in PLUGIN_FOLDERS:
        for path in sorted(folder.rglob("*.py")):
            allowed = ("srkit.api", "srkit.testing") if "tests" in path.parts else ("srkit.api",)
            offenders += [f"{path.relative_to(ROOT)}: {name}"
                          for name in outside_the_api(path.read_text(), allowed)]
    assert offenders == []


def test_the_plugin_guide_examples_import_srkit_only_through_the_api() -> None:
    blocks = [textwrap.dedent(block) for block in
              re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "plugins.md").read_text(), re.S)]
    assert blocks
    offenders = [name for block in blocks
                 for name in outside_the_api(block, ("srkit.api", "srkit.testing"))]
    assert offenders == []


def test_the_surface_is_what_its_version_says() -> None:
    assert set(api.__all__) == SURFACE[api.API_VERSION]
    assert all(hasattr(api, name) for name in api.__all__)


def test_the_plugin_guide_documents_every_name_of_the_api() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    undocumented = [name for name in api.__all__ if f"`{name}" not in guide]
    assert undocumented == []


def test_importing_the_api_leaves_the_optional_heavy_libraries_unloaded() -> None:
    heavy = ("torchvision", "lpips", "onnx", "onnxruntime", "spandrel", "matplotlib")
    code = f"import sys, srkit.api; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_versions_that_still_load_plugins_only_added_names() -> None:
    """Plugins of OLDEST_PLUGIN_API and later load, so no later version may remove a name."""
    from srkit.version import OLDEST_PLUGIN_API, PLUGIN_API_VERSION

    for version in range(OLDEST_PLUGIN_API + 1, PLUGIN_API_VERSION + 1):
        assert SURFACE[version - 1] <= SURFACE[version], version
