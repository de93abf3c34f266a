"""The template plugin (examples/srkit-espcn), found through an entry point like any installed
plugin: listed with its distribution, trained and benchmarked through the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch

from srkit import testing as srkit_testing
from srkit.evaluation.protocol import evaluate, make_lr, modcrop
from srkit.imageio import load_image
from srkit.metrics import quantize
from srkit.plugins import get_registry
from srkit.registry import Origin
from srkit.weights.files import load_model
from tests.plugin_fixtures import make_distribution

TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "srkit-espcn"


def installed_template() -> Origin | None:
    """The template's origin when it is installed for real (CI installs it as a third party would)."""
    for ep in entry_points(group="srkit"):
        if ep.name == "espcn" and ep.dist is not None:
            return Origin("espcn", ep.dist.name, ep.dist.version)
    return None


def run_cli(*args: object) -> str:
    result = srkit_testing.run_cli(*args)
    assert result.code == 0, result.err
    return result.out


@pytest.fixture
def espcn_installed(tmp_path, monkeypatch):
    """The template's origin, installed: for real, or else as if pip-installed (a dist-info declaring
    its entry point, the source on sys.path)."""
    origin = installed_template()
    if origin is None:
        site = tmp_path / "site"
        make_distribution(site, "srkit-espcn-tmp", "0.0", {"espcn": "srkit_espcn"})
        for path in (site, TEMPLATE):
            monkeypatch.syspath_prepend(str(path))
        origin = Origin("espcn", "srkit-espcn-tmp", "0.0")
    with srkit_testing.plugin_environment(entry_points=["espcn"]):  # core + the template only
        yield origin


@pytest.fixture
def photos(tmp_path):
    """Two small RGB images (48x48, divisible by scales 2, 3 and 4)."""
    return srkit_testing.make_image_folder(tmp_path / "photos", count=2, size=(48, 48))


def test_plugins_verbose_lists_every_item_with_the_distribution(espcn_installed):
    out = run_cli("plugins", "-v")
    shown = re.escape(f"espcn ({espcn_installed.distribution} {espcn_installed.version})")
    provided = re.findall(rf"^  (\S+) +{shown}$", out, re.MULTILINE)
    assert provided == ["espcn", "espcn", "espcn", "espcn-info"]  # generator, recipe, converter
    assert "srkit_espcn.arch.ESPCN: " in out and "srkit_espcn.espcn_info: " in out
    assert re.search(rf"^  {shown}$", out, re.MULTILINE)  # under plugins:
    assert get_registry().failed == []


def test_espcn_info_command_comes_from_the_plugin(espcn_installed):
    from srkit_espcn.arch import ESPCN as Net

    out = run_cli("espcn-info", "--scale", "2")
    expected = sum(p.numel() for p in Net(scale=2).parameters())
    assert f"parameters: {expected:,}" in out
    assert get_registry().entry("command", "espcn-info").origin == espcn_installed


def test_train_then_bench_espcn_through_the_cli(espcn_installed, photos, tmp_path):
    run = tmp_path / "run"
    run_cli("train", "espcn", "--iters", 3, "--batch-size", 2, "--patch-size", 24,
            "--workers", 0, "--val", photos, "--data", photos, "--out", run, "--device", "cpu")
    weights = run / "model.safetensors"
    assert weights.is_file()

    out = run_cli("bench", "--models", "espcn", "--weights", f"espcn={weights}",
                  "--datasets", photos, "--scales", 4, "--format", "json", "--device", "cpu",
                  "--no-baseline")
    (row,) = json.loads(out[out.index("["):])
    assert (row["model"], row["scale"], row["images"]) == ("espcn", 4, 2)
    # the same weights run by hand through the protocol's steps give the row's numbers
    model = load_model(weights)
    scores = []
    for path in sorted(photos.iterdir()):
        hr = modcrop(load_image(path)[None], 4)
        with torch.no_grad():
            sr = quantize(model(make_lr(hr, 4)).clamp(0, 1))
        scores.append(evaluate(sr, hr, 4))
    assert row["psnr"] == pytest.approx(sum(float(s["psnr"][0]) for s in scores) / 2, abs=1e-4)
    assert row["ssim"] == pytest.approx(sum(float(s["ssim"][0]) for s in scores) / 2, abs=1e-5)
    assert row["params"] == sum(p.numel() for p in model.parameters())


@pytest.mark.slow
def test_pip_install_of_the_template_folder_registers_it(tmp_path, monkeypatch):
    """The real thing: ``pip install`` the folder (into a target dir), then ask a fresh ``srkit``."""
    pytest.importorskip("setuptools", reason="building the template offline needs setuptools")
    source = tmp_path / "src"
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                   check=True)
    env = {"PATH": "", "PYTHONPATH": str(target), "SRKIT_PLUGINS": "espcn"}
    listing = subprocess.run([sys.executable, "-m", "srkit", "plugins", "-v"], env=env,
                             capture_output=True, text=True, check=True).stdout
    assert "espcn (srkit-espcn 0.1.0)" in listing and "FAILED" not in listing


REPO = TEMPLATE.parents[1]


def _plugin_discovery():  # noqa: ANN202 - setup.py's function, loaded without running setup()
    import importlib.util

    spec = importlib.util.spec_from_file_location("srkit_setup", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.builtin_plugin_packages


def test_every_plugin_folder_is_an_entry_point_of_the_installed_srkit() -> None:
    """A built-in plugin is its folder: packaging finds it, no list outside it names it."""
    found = _plugin_discovery()(REPO)
    assert {"srgan", "drn", "realesrgan"} <= set(found)
    declared = {ep.name: ep.value for ep in entry_points(group="srkit")
                if ep.dist is not None and ep.dist.name == "srkit"}
    assert declared == {"core": "srkit.builtin", **found}


def test_a_new_plugin_folder_is_found_by_packaging(tmp_path: Path) -> None:
    for folder, package in (("mynet", "srkit_mynet"), ("notes", "docs_only")):
        (tmp_path / "plugins" / folder / package).mkdir(parents=True)
        (tmp_path / "plugins" / folder / package / "__init__.py").write_text("")
    assert _plugin_discovery()(tmp_path) == {"mynet": "srkit_mynet"}
