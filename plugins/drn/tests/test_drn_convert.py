"""The official DRN release converts to srkit weights that reproduce the official forward pass."""

from __future__ import annotations

import pytest
import torch
from drn_official import (
    official_duals,
    official_forward,
    official_layout,
    random_official_checkpoint,
)

from srkit.api import SrkitError, convert_checkpoint, load_model, read_extras, weights_info
from srkit_drn.arch import DRN, DualModels
from srkit_drn.convert import convert_drn_l, convert_drn_s


def _flat(duals: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {f"{i}.{k}": v for i, sd in enumerate(duals) for k, v in sd.items()}


@pytest.mark.parametrize("scale", [4, 8])
@pytest.mark.parametrize("dual_format", ["list", "flat"])
def test_every_official_key_is_consumed_exactly_once(scale: int, dual_format: str) -> None:
    primal, duals = random_official_checkpoint(scale)
    dual_file = duals if dual_format == "list" else _flat(duals)
    converted = convert_drn_s(dict(primal), scale=scale, extra={"dual": dual_file})

    layout = official_layout(scale)
    assert len(converted.state_dict) + len(converted.extras["dual"]) == len(layout)
    for key, tensor in primal.items():
        assert torch.equal(converted.state_dict[key], tensor), key
    for index, state in enumerate(duals):
        for key, tensor in state.items():
            assert torch.equal(converted.extras["dual"][f"{index}.{key}"], tensor), (index, key)
    assert converted.arch == "drn-s"
    assert converted.kwargs == {"scale": scale, "n_feats": layout["head.weight"][0], "n_blocks": 30}


@pytest.mark.parametrize(("scale", "dual_format"), [(4, "list"), (8, "flat")])
def test_converted_file_reproduces_official_forward(tmp_path, scale: int, dual_format: str) -> None:
    primal, duals = random_official_checkpoint(scale)
    src, dual_src = tmp_path / f"DRNS{scale}x.pt", tmp_path / f"DRNS{scale}x_dual_model.pt"
    dst = tmp_path / "drn.safetensors"
    torch.save(primal, src)
    torch.save(duals if dual_format == "list" else _flat(duals), dual_src)

    convert_checkpoint(src, dst, arch="drn-s", scale=scale, extra_files={"dual": dual_src})

    model = load_model(dst, scale=scale)
    dual_models = DualModels(scale, model.n_feats)
    dual_models.load_state_dict(read_extras(dst)["dual"])
    lr = torch.rand(1, 3, 12 if scale == 4 else 6, 10 if scale == 4 else 5,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = official_forward(primal, lr * 255, scale)
        expected_back = official_duals(duals, expected)
        levels = model.forward_levels(lr)
        back = dual_models(levels)
        final = model(lr)
    assert len(levels) == len(expected)
    for ours, theirs in zip(levels, expected, strict=True):
        torch.testing.assert_close(ours * 255, theirs, rtol=1e-4, atol=2e-3)
    for ours, theirs in zip(back, expected_back, strict=True):
        torch.testing.assert_close(ours * 255, theirs, rtol=1e-4, atol=2e-3)
    torch.testing.assert_close(final * 255, expected[-1], rtol=1e-4, atol=2e-3)
    assert weights_info(dst)["kwargs"] == {"scale": scale, "n_feats": model.n_feats, "n_blocks": 30}


def test_mean_shift_values_come_from_the_checkpoint() -> None:
    primal, _ = random_official_checkpoint(4)
    converted = convert_drn_s(primal, scale=4, extra={})
    for name in ("sub_mean.weight", "sub_mean.bias", "add_mean.weight", "add_mean.bias"):
        assert torch.equal(converted.state_dict[name], primal[name])
    assert converted.extras == {}


def test_wrong_scale_is_a_one_line_error() -> None:
    primal, _ = random_official_checkpoint(8)
    with pytest.raises(SrkitError, match="3 down blocks, a x4 DRN has 2"):
        convert_drn_s(primal, scale=4, extra={})


def test_missing_key_is_named() -> None:
    primal, _ = random_official_checkpoint(4)
    del primal["tail.1.bias"]
    with pytest.raises(SrkitError, match="missing key 'tail.1.bias'"):
        convert_drn_s(primal, scale=4, extra={})


def test_wrong_shape_is_named() -> None:
    primal, duals = random_official_checkpoint(4)
    duals[1]["dual_module.1.weight"] = torch.zeros(3, 8, 3, 3)
    with pytest.raises(SrkitError, match="'1.dual_module.1.weight' has shape"):
        convert_drn_s(primal, scale=4, extra={"dual": duals})


def test_drn_l_converter_records_its_own_architecture() -> None:
    primal, _ = random_official_checkpoint(4)
    assert convert_drn_l(primal, scale=4, extra={}).arch == "drn-l"


@pytest.mark.parametrize(("scale", "named"), [(4, ["--arch", "drn-s", "--scale", "4"]), (8, [])],
                         ids=["arch-and-scale-given", "detected"])
def test_convert_command_reads_the_official_file_pair(tmp_path, scale, named) -> None:
    from srkit.testing import run_cli

    primal, duals = random_official_checkpoint(scale)
    torch.save(primal, tmp_path / f"DRNS{scale}x.pt")
    torch.save(duals, tmp_path / f"DRNS{scale}x_dual_model.pt")
    result = run_cli("convert", tmp_path / f"DRNS{scale}x.pt", tmp_path / "drn.safetensors", *named,
                     "--dual", tmp_path / f"DRNS{scale}x_dual_model.pt")
    assert result.code == 0, result.err
    info = weights_info(tmp_path / "drn.safetensors")
    assert (info["arch"], info["scale"], info["extras"]) == ("drn-s", scale, ["dual"])
    assert set(read_extras(tmp_path / "drn.safetensors")["dual"]) == {
        f"{i}.{k}" for i, sd in enumerate(duals) for k in sd
    }


@pytest.mark.parametrize("scale", [4, 8])
def test_official_drn_s_is_recognised_with_its_scale(scale) -> None:
    from srkit.api import detect_layout

    primal, _ = random_official_checkpoint(scale)
    assert detect_layout(primal) == {"drn-s": scale}


def test_a_drn_of_unpublished_size_matches_both_variants(tmp_path) -> None:
    from srkit.api import convert_state_dict

    with torch.device("meta"):
        keys = DRN(scale=4, n_feats=8, n_blocks=2).state_dict()
    state = {k: torch.zeros(v.shape) for k, v in keys.items()}
    with pytest.raises(SrkitError, match=r"several converters \(drn-l, drn-s\); choose one with --arch"):
        convert_state_dict(state)
    assert convert_state_dict(state, arch="drn-l").kwargs == {"scale": 4, "n_feats": 8, "n_blocks": 2}


@pytest.mark.parametrize("scale", [8, pytest.param(4, marks=pytest.mark.slow)])
def test_official_export_round_trips_primal_and_duals_key_for_key(tmp_path, scale) -> None:
    from srkit.api import export_official

    primal, duals = random_official_checkpoint(scale)
    torch.save(primal, tmp_path / "DRNS.pt")
    torch.save(duals, tmp_path / "DRNS_dual_model.pt")
    convert_checkpoint(tmp_path / "DRNS.pt", tmp_path / "drn.safetensors",
                       extra_files={"dual": tmp_path / "DRNS_dual_model.pt"})
    written = export_official(tmp_path / "drn.safetensors", tmp_path / f"DRNS{scale}x.pt")
    assert written == [tmp_path / f"DRNS{scale}x.pt", tmp_path / f"DRNS{scale}x_dual_model.pt"]
    back = torch.load(written[0], weights_only=True)
    back_duals = torch.load(written[1], weights_only=True)
    assert set(back) == set(primal) and all(torch.equal(back[k], primal[k]) for k in primal)
    assert len(back_duals) == len(duals)
    for ours, theirs in zip(back_duals, duals, strict=True):
        assert set(ours) == set(theirs) and all(torch.equal(ours[k], theirs[k]) for k in theirs)
    lr = torch.rand(1, 3, 6, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path / "drn.safetensors")(lr) * 255,
                                   official_forward(back, lr * 255, scale)[-1], rtol=1e-4, atol=2e-3)


def test_drn_exports_to_onnx_matching_pytorch(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from srkit.api import build_generator, export_onnx, save_weights

    save_weights(build_generator("drn-s", scale=4, n_feats=8, n_blocks=1), tmp_path / "drn.safetensors")
    differences = export_onnx(tmp_path / "drn.safetensors", tmp_path / "drn.onnx")
    assert len(differences) == 2 and max(differences.values()) < 1e-4
