"""The template plugin (examples/srkit-espcn), found through an entry point like any installed
plugin: listed with its distribution, trained and benchmarked through the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srkit.cli import main
from srkit.plugins import get_registry, reset_registry
from srkit.registry import Origin
from tests.plugin_fixtures import make_distribution

TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "srkit-espcn"
ESPCN = Origin("espcn", "srkit-espcn-tmp", "0.0")


def run_cli(capsys, *args: str) -> str:
    main([str(a) for a in args])
    return capsys.readouterr().out


def clean_registry(monkeypatch, *paths: Path) -> None:
    for variable in ("SRKIT_PLUGINS", "SRKIT_DISABLE_PLUGINS", "SRKIT_PLUGIN_MODULES"):
        monkeypatch.delenv(variable, raising=False)
    for path in paths:
        monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("SRKIT_PLUGINS", "espcn")  # core + the template; faster, and no other plugin
    reset_registry()


@pytest.fixture
def espcn_installed(tmp_path, monkeypatch):
    """The template as if pip-installed: a dist-info declaring its entry point, the source on sys.path."""
    site = tmp_path / "site"
    make_distribution(site, "srkit-espcn-tmp", "0.0", {"espcn": "srkit_espcn"})
    clean_registry(monkeypatch, site, TEMPLATE)
    yield
    reset_registry()


@pytest.fixture
def photos(tmp_path):
    """Two small RGB images (48x48, divisible by scales 2, 3 and 4)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        smooth = np.kron(rng.random((6, 6, 3)), np.ones((8, 8, 1)))  # blocks, not pure noise
        Image.fromarray((smooth * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def test_plugins_verbose_lists_every_item_with_the_distribution(espcn_installed, capsys):
    out = run_cli(capsys, "plugins", "-v")
    provided = re.findall(r"^  (\S+) +espcn \(srkit-espcn-tmp 0\.0\)$", out, re.MULTILINE)
    assert provided == ["espcn", "espcn", "espcn", "espcn-info"]  # generator, recipe, converter
    assert "srkit_espcn.arch.ESPCN: " in out and "srkit_espcn.espcn_info: " in out
    assert re.search(r"^  espcn \(srkit-espcn-tmp 0\.0\)$", out, re.MULTILINE)  # under plugins:
    assert get_registry().failed == []


def test_espcn_info_command_comes_from_the_plugin(espcn_installed, capsys):
    from srkit_espcn.arch import ESPCN as Net

    out = run_cli(capsys, "espcn-info", "--scale", "2")
    expected = sum(p.numel() for p in Net(scale=2).parameters())
    assert f"parameters: {expected:,}" in out
    assert get_registry().entry("command", "espcn-info").origin == ESPCN


def test_train_then_bench_espcn_through_the_cli(espcn_installed, photos, tmp_path, capsys):
    run = tmp_path / "run"
    run_cli(capsys, "train", "espcn", "--iters", 3, "--batch-size", 2, "--patch-size", 24,
            "--workers", 0, "--val", photos, "--data", photos, "--out", run, "--device", "cpu")
    weights = run / "model.safetensors"
    assert weights.is_file()

    out = run_cli(capsys, "bench", "--models", "espcn", "--weights", f"espcn={weights}",
                  "--datasets", photos, "--scales", 4, "--format", "json", "--device", "cpu")
    (row,) = json.loads(out[out.index("["):])
    assert (row["model"], row["scale"], row["images"]) == ("espcn", 4, 2)
    assert np.isfinite(row["psnr"]) and row["params"] > 0


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
