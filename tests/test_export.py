"""``srkit export``: ONNX graphs checked with onnxruntime, and the error when no plugin writes a layout."""

from __future__ import annotations

import pytest
import torch

from srkit.models import build_generator
from srkit.plugins import reset_registry
from srkit.weights import save_weights
from tests.cli_helpers import expect_one_line_error, run_cli

onnxruntime = pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def _core_fixture_plugin(monkeypatch):
    monkeypatch.setenv("SRKIT_PLUGIN_MODULES", "tests.core_fixture_plugin")
    reset_registry()
    yield
    reset_registry()


def test_onnx_graph_has_dynamic_size_and_matches_pytorch(tmp_path, capsys):
    torch.manual_seed(0)
    model = build_generator("tiny-core", scale=2, channels=4).eval()
    save_weights(model, tmp_path / "m.safetensors")
    code, out, err = run_cli(capsys, "export", str(tmp_path / "m.safetensors"), str(tmp_path / "m.onnx"),
                             "--format", "onnx")
    assert code == 0, err
    assert "largest difference" in out
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for height, width in ((9, 14), (31, 8)):  # neither is a size the exporter saw
        lr = torch.rand(2, 3, height, width)
        got = torch.from_numpy(session.run(None, {"lr": lr.numpy()})[0])
        with torch.no_grad():
            torch.testing.assert_close(got, model(lr), rtol=1e-4, atol=1e-5)


def test_official_export_of_an_arch_no_plugin_writes_is_one_line(tmp_path, capsys):
    save_weights(build_generator("tiny-core", scale=2), tmp_path / "m.safetensors")
    err = expect_one_line_error(["export", str(tmp_path / "m.safetensors"), str(tmp_path / "m.pth"),
                                 "--format", "official"], capsys)
    assert "no installed plugin writes 'tiny-core' weights" in err and "srresnet" in err
