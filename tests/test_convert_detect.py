"""``srkit convert`` without ``--arch``: converters recognise their layouts and read the scale."""

from __future__ import annotations

import pytest
import torch

from srkit.cli import main
from srkit.errors import SrkitError
from srkit.interfaces import Converter, as_converter
from srkit.nn.models import build_generator
from srkit.weights.convert import choose_converter, closest_layouts, detect_layout
from srkit.weights.files import load_model, read_extras
from tests.cli_helpers import core_fixture_plugin, expect_one_line_error, run_cli  # noqa: F401

pytestmark = pytest.mark.usefixtures("core_fixture_plugin")


def _foreign_tiny(scale: int = 2) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    torch.manual_seed(scale)
    source = build_generator("tiny-core", scale=scale, channels=4)
    foreign = {k.replace("body.", "first.").replace("tail.", "last."): v
               for k, v in source.state_dict().items()}
    return source, foreign


def test_plain_function_with_attributes_is_a_detectable_converter():
    from tests.core_fixture_plugin import convert_foreign_tiny

    converter = as_converter(convert_foreign_tiny)
    assert isinstance(converter, Converter) and converter.detect is not None
    assert [i.name for i in converter.inputs] == ["dual"]
    assert as_converter(converter) is converter


@pytest.mark.parametrize("scale", [2, 3])
def test_layout_and_scale_are_read_from_the_tensors(scale):
    _, foreign = _foreign_tiny(scale)
    assert detect_layout(foreign) == {"tiny-core": scale}
    assert choose_converter(foreign, arch=None, scale=None) == ("tiny-core", scale)


@pytest.mark.parametrize("scale", [2, 3])
def test_a_foreign_file_scale_is_read_without_converting_it(scale, tmp_path, monkeypatch):
    from srkit.weights import convert
    from srkit.weights.model_files import model_file_scale

    _, foreign = _foreign_tiny(scale)
    torch.save(foreign, tmp_path / "tiny.pth")
    monkeypatch.setattr(convert, "convert_state_dict", lambda *a, **k: pytest.fail("converted"))
    assert model_file_scale(tmp_path / "tiny.pth") == scale


def test_given_scale_is_checked_against_the_weights():
    _, foreign = _foreign_tiny(2)
    with pytest.raises(SrkitError, match="upscale x2, not --scale 4"):
        choose_converter(foreign, arch=None, scale=4, source="f.pth")


def test_convert_without_arch_names_the_converter_and_computes_like_the_source(tmp_path, capsys):
    source, foreign = _foreign_tiny(2)
    torch.save({"params_ema": foreign}, tmp_path / "foreign.pth")
    torch.save({"w": torch.arange(3.0)}, tmp_path / "aux.pth")
    main(["convert", str(tmp_path / "foreign.pth"), str(tmp_path / "out.safetensors"),
          "--dual", str(tmp_path / "aux.pth")])
    captured = capsys.readouterr()
    assert "recognised as tiny-core" in captured.err and "tiny-core x2" in captured.out
    x = torch.rand(1, 3, 5, 5)
    assert torch.equal(load_model(tmp_path / "out.safetensors")(x), source(x))
    assert torch.equal(read_extras(tmp_path / "out.safetensors")["aux"]["w"], torch.arange(3.0))


def test_unknown_layout_is_one_line_naming_the_closest_layouts(tmp_path, capsys):
    # an SRResNet-like file whose last convolution is missing: no converter claims it
    torch.save({"conv1.0.weight": torch.zeros(4, 3, 9, 9), "trunk.0.rcb.0.weight": torch.zeros(1),
                "other.weight": torch.zeros(1)}, tmp_path / "odd.pth")
    err = expect_one_line_error(["convert", str(tmp_path / "odd.pth"), str(tmp_path / "o.safetensors")],
                                capsys)
    assert "odd.pth: no installed converter recognises this layout" in err
    assert "closest known layouts: srresnet (" in err and "--arch" in err


def test_closest_layouts_rank_by_shared_key_names():
    ranked = closest_layouts({"head.weight": torch.zeros(1), "head.bias": torch.zeros(1),
                              "tail.1.bias": torch.zeros(1)})
    assert ranked and ranked[0][0] in ("drn-s", "drn-l")
    assert all(0 < share <= 1 for _, share in ranked)


def test_input_the_chosen_converter_does_not_read_is_an_error(tmp_path, capsys):
    from srkit_srgan.arch import SRResNet
    from srkit_srgan.convert import SRRESNET_EXPORT_RULES, rename_keys

    state = rename_keys(SRResNet(scale=2, channels=4, blocks=1).state_dict(), SRRESNET_EXPORT_RULES,
                        "SRResNet", source="an srkit")
    torch.save(state, tmp_path / "g.pth")
    torch.save({"w": torch.zeros(1)}, tmp_path / "aux.pth")
    err = expect_one_line_error(["convert", str(tmp_path / "g.pth"), str(tmp_path / "o.safetensors"),
                                 "--dual", str(tmp_path / "aux.pth")], capsys)
    assert "--dual is not read by the srresnet converter" in err


def test_arch_help_lists_the_installed_converters(capsys):
    code, out, _ = run_cli(capsys, "convert", "--help")
    assert code == 0
    assert "installed:" in out and "drn-s" in out and "srresnet" in out and "--dual" in out


@pytest.mark.parametrize(("obj", "problem"), [
    (Converter(convert=lambda s, **k: None, detect="yes"), "declares detect='yes'"),
    (Converter(convert=lambda s, **k: None, inputs=("dual",)), "declares input 'dual'"),
    ("convert", "not a converter function"),
])
def test_a_malformed_converter_is_refused_when_registered(obj, problem):
    from srkit.errors import PluginError
    from srkit.registry import Origin, Registry

    with pytest.raises(PluginError, match=problem):
        Registry().add("converter", "bad", obj, Origin("p"))
