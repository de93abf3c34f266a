"""Self-describing weights and the checkpoint conversion path shared by every plugin."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from srkit import plugins
from srkit.cli import main
from srkit.errors import SrkitError
from srkit.nn.models import build_generator, count_parameters
from srkit.weights.convert import extract_state_dict, load_foreign
from srkit.weights.files import load_model, read_extras, save_weights, weights_info
from tests.cli_helpers import expect_one_line_error
from tests.thread_helpers import caller_threads, record_thread_counts


@pytest.fixture(autouse=True)
def tiny_plugin(monkeypatch):
    monkeypatch.setenv("SRKIT_PLUGIN_MODULES", "tests.core_fixture_plugin")
    monkeypatch.setenv("SRKIT_PLUGINS", "core")
    plugins.reset_registry()
    yield
    plugins.reset_registry()


def test_saved_weights_rebuild_the_same_model_from_the_file_alone(tmp_path):
    torch.manual_seed(0)
    model = build_generator("tiny-core", scale=3, channels=5)
    save_weights(model, tmp_path / "m.safetensors", config={"iters": 7})
    loaded = load_model(tmp_path / "m.safetensors")
    x = torch.rand(1, 3, 8, 8)
    assert loaded.scale == 3 and count_parameters(loaded) == count_parameters(model)
    assert torch.equal(loaded(x), model(x))
    info = weights_info(tmp_path / "m.safetensors")
    assert info["arch"] == "tiny-core" and info["kwargs"] == {"scale": 3, "channels": 5}
    assert info["config"] == {"iters": 7}


def test_loading_weights_works_on_one_cpu_thread_and_restores_the_count(tmp_path, monkeypatch):
    # Hundreds of small tensors: a second thread only waits (seconds on a busy machine).
    path = tmp_path / "w.safetensors"
    save_weights(build_generator("tiny-core", scale=2, channels=5), path)
    seen = record_thread_counts(monkeypatch, "srkit.weights.files", "check_finite_tensors")
    with caller_threads(2):
        load_model(path)
        assert seen == [1]
        assert torch.get_num_threads() == 2


def test_a_later_default_change_does_not_change_how_an_old_file_rebuilds(tmp_path, monkeypatch):
    from tests.core_fixture_plugin import TinyUpsampler

    torch.manual_seed(0)
    model = build_generator("tiny-core", scale=2)  # channels left at its default, 4
    save_weights(model, tmp_path / "m.safetensors")
    assert weights_info(tmp_path / "m.safetensors")["kwargs"] == {"scale": 2, "channels": 4}
    monkeypatch.setattr(TinyUpsampler.__init__, "__defaults__", (2, 9))  # a new release's default
    assert build_generator("tiny-core", scale=2).body.out_channels == 9
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.body.out_channels == 4
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(loaded(x), model(x))


def test_weights_for_another_scale_are_refused(tmp_path):
    save_weights(build_generator("tiny-core", scale=2), tmp_path / "m.safetensors")
    with pytest.raises(SrkitError, match="x2, not x4"):
        load_model(tmp_path / "m.safetensors", scale=4)


def test_non_safetensors_and_foreign_safetensors_give_one_line_errors(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(SrkitError, match="not a safetensors file"):
        load_model(tmp_path / "bad.safetensors")
    save_file({"w": torch.zeros(1)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(SrkitError, match="without srkit metadata"):
        load_model(tmp_path / "foreign.safetensors")


def test_mismatched_tensors_name_the_architecture(tmp_path):
    save_weights(build_generator("tiny-core", scale=2, channels=4), tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m.safetensors"), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["kwargs"] = json.dumps({"scale": 2, "channels": 6})
    save_file(tensors, str(tmp_path / "m.safetensors"), metadata=meta)
    expected = r"tensors do not match the metadata \(tiny-core .*'body.weight' has shape"
    with pytest.raises(SrkitError, match=expected):
        load_model(tmp_path / "m.safetensors")


@pytest.mark.parametrize("wrap", ["state_dict", "params_ema", "params", None])
def test_foreign_checkpoints_are_unnested_and_unprefixed(tmp_path, wrap):
    state = {"module._orig_mod.first.weight": torch.ones(2), "module._orig_mod.first.bias": torch.zeros(2)}
    ckpt = {wrap: state, "epoch": 3} if wrap else state
    torch.save(ckpt, tmp_path / "c.pth.tar")
    found = extract_state_dict(load_foreign(tmp_path / "c.pth.tar"))
    assert sorted(found) == ["first.bias", "first.weight"]


def test_pickled_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"state_dict": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(SrkitError, match="cannot read checkpoint safely"):
        load_foreign(tmp_path / "evil.pth")


def _rewritten(src, dst, *, metadata=None, tensor=None):  # noqa: ANN001, ANN202
    """A copy of weights file ``src`` with some metadata replaced and/or one tensor changed."""
    from safetensors import safe_open
    from safetensors.torch import load_file as load

    with safe_open(str(src), framework="pt") as f:
        meta = {**f.metadata(), **(metadata or {})}
    tensors = load(str(src))
    if tensor is not None:
        tensors = {**tensors, **tensor(tensors)}
    save_file(tensors, str(dst), metadata=meta)
    return dst


def test_weights_with_nan_or_inf_are_refused_naming_file_and_tensor(tmp_path, capsys):
    good = tmp_path / "good.safetensors"
    save_weights(build_generator("tiny-core", scale=2, channels=4), good)
    for value in (float("nan"), float("inf")):
        def poison(tensors, value=value):  # noqa: ANN001, ANN202
            name = sorted(tensors)[0]
            broken = tensors[name].clone()
            broken.view(-1)[0] = value
            return {name: broken}

        bad = _rewritten(good, tmp_path / "bad.safetensors", tensor=poison)
        with pytest.raises(SrkitError, match="bad.safetensors: tensor .* holds NaN or infinite"):
            load_model(bad)
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    err = expect_one_line_error(["upscale", "--weights", str(bad), str(image),
                                 "--out", str(tmp_path / "up")], capsys)
    assert "bad.safetensors" in err and "NaN or infinite" in err


def test_metadata_scale_that_contradicts_kwargs_scale_is_refused(tmp_path, capsys):
    good = tmp_path / "x4.safetensors"
    save_weights(build_generator("tiny-core", scale=4, channels=4), good)
    bad = _rewritten(good, tmp_path / "lying.safetensors", metadata={"scale": "2"})
    with pytest.raises(SrkitError, match="lying.safetensors: metadata says x2 .* scale 4"):
        load_model(bad, scale=2)
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    err = expect_one_line_error(["upscale", "--weights", str(bad), "--scale", "2", str(image),
                                 "--out", str(tmp_path / "up")], capsys)
    assert "metadata says x2" in err


def _torch_file_with_pickle(path, payload) -> None:
    """A torch.save zip file whose pickle is ``payload`` (what a hostile .pth looks like)."""
    import pickle
    import zipfile

    torch.save({"w": torch.zeros(2)}, path.with_suffix(".plain"))
    with zipfile.ZipFile(path.with_suffix(".plain")) as source, zipfile.ZipFile(path, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            out.writestr(item, pickle.dumps(payload, protocol=2) if item.filename.endswith("data.pkl")
                         else data)


def test_convert_names_the_refused_global_and_never_suggests_disabling_weights_only(
        tmp_path, capsys):
    import os

    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    _torch_file_with_pickle(tmp_path / "evil.pth", {"state_dict": Evil()})
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", str(tmp_path / "evil.pth"), str(tmp_path / "o.safetensors"),
              "--arch", "tiny-core", "--scale", "2"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1, err
    assert f"{os.system.__module__}.system" in err  # posix.system: the real reason
    assert "weights_only" not in err and "False" not in err
    assert not marker.exists()
    assert not (tmp_path / "o.safetensors").exists()


def test_convert_cli_writes_weights_that_compute_like_the_source(tmp_path, capsys):
    torch.manual_seed(1)
    source = build_generator("tiny-core", scale=2, channels=4)
    foreign = {"module." + k.replace("body.", "first.").replace("tail.", "last."): v
               for k, v in source.state_dict().items()}
    torch.save({"state_dict": foreign}, tmp_path / "foreign.pth")
    torch.save({"w": torch.arange(3.0)}, tmp_path / "dual.pth")
    main(["convert", str(tmp_path / "foreign.pth"), str(tmp_path / "out.safetensors"),
          "--arch", "tiny-core", "--scale", "2", "--dual", str(tmp_path / "dual.pth")])
    assert "wrote" in capsys.readouterr().out
    converted = load_model(tmp_path / "out.safetensors")
    x = torch.rand(2, 3, 6, 6)
    assert torch.equal(converted(x), source(x))
    assert torch.equal(read_extras(tmp_path / "out.safetensors")["aux"]["w"], torch.arange(3.0))


def test_convert_cli_unknown_arch_is_a_one_line_error(tmp_path, capsys):
    torch.save({"a": torch.zeros(1)}, tmp_path / "c.pth")
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", str(tmp_path / "c.pth"), str(tmp_path / "o.safetensors"), "--arch", "nope",
              "--scale", "4"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no converter for architecture 'nope'") and "\n" not in err


def test_info_cli_reports_arch_scale_and_stored_values(tmp_path, capsys):
    model = build_generator("tiny-core", scale=2, channels=4)
    save_weights(model, tmp_path / "m.safetensors")
    main(["info", str(tmp_path / "m.safetensors"), "--json"])
    info = json.loads(capsys.readouterr().out)
    assert (info["arch"], info["scale"]) == ("tiny-core", 2)
    # tiny-core has no buffers: its stored values are exactly its parameters
    assert (info["values"], info["tensors"]) == (count_parameters(model), len(model.state_dict()))
