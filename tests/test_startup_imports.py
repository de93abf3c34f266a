"""Start-up stays light: which heavy libraries a command imports (the times are in
``benchmarks/startup.py``)."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    """Module names loaded by a fresh interpreter after running ``code``."""
    script = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_version_and_the_command_list_of_the_core_do_not_import_torch() -> None:
    loaded = _modules_after(
        "from srkit.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass")
    assert "torch" not in loaded


def test_loading_every_plugin_imports_neither_torchvision_nor_dynamo() -> None:
    loaded = _modules_after("from srkit.plugins import get_registry\nget_registry()")
    assert "torchvision" not in loaded and "torch._dynamo" not in loaded


def test_naming_a_vgg_layer_does_not_import_torchvision() -> None:
    loaded = _modules_after("from srkit.api import vgg19_layer_index\nvgg19_layer_index('relu5_4')")
    assert "torchvision" not in loaded
