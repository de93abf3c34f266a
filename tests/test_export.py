"""``srkit export``: ONNX graphs checked with onnxruntime, and the error when no plugin writes a layout."""

from __future__ import annotations

import pytest
import torch

from srkit.nn.models import build_generator
from srkit.weights.files import save_weights
from tests.cli_helpers import core_fixture_plugin, expect_one_line_error, run_cli  # noqa: F401

onnxruntime = pytest.importorskip("onnxruntime")


pytestmark = pytest.mark.usefixtures("core_fixture_plugin")


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
