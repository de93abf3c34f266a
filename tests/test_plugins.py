"""Loading plugins: broken ones are refused with a message naming them and the CLI keeps working."""

from __future__ import annotations

import importlib
import json
import sys
import types
from importlib.metadata import EntryPoint, entry_points

import pytest

from srkit.errors import PluginError
from srkit.hookspecs import hookimpl
from srkit.plugins import (
    PluginLoadWarning,
    build_registry,
    get_plugin_manager,
    get_registry,
    lookup,
    reset_registry,
)
from srkit.registry import Origin
from srkit.version import OLDEST_PLUGIN_API, PLUGIN_API_VERSION
from tests.cli_helpers import run_cli
from tests.plugin_fixtures import make_distribution

FIXTURES = "tests.plugin_fixtures"


def fixture(name: str):
    return importlib.import_module(f"{FIXTURES}.{name}")


def load(*names: str):
    """A registry built from fixture modules (imported on load), each plugin named after its module."""
    plugins = [(EntryPoint(n, f"{FIXTURES}.{n}", "srkit"), Origin(n, f"dist-{n}", "1.0"))
               for n in names]
    return build_registry(plugins)[0]


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests "install" distributions; a clean registry around the test."""
    for variable in ("SRKIT_PLUGINS", "SRKIT_DISABLE_PLUGINS", "SRKIT_PLUGIN_MODULES"):
        monkeypatch.delenv(variable, raising=False)
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    reset_registry()
    yield folder
    reset_registry()


def test_import_error_is_reported_with_plugin_and_cause():
    with pytest.warns(PluginLoadWarning, match="plugin broken_import .* failed to load"):
        registry = load("broken_import")
    (failure,) = registry.failed
    assert failure.origin.plugin == "broken_import"
    assert "import failed: ModuleNotFoundError: No module named 'srkit_missing_dependency'" in failure.error
    assert "broken_import.py:3" in failure.error
    assert "Traceback" in failure.details


def test_exception_in_a_hook_refuses_the_whole_plugin():
    with pytest.warns(PluginLoadWarning, match="register_losses raised RuntimeError: the loss table"):
        registry = load("raising_hook")
    assert registry.names("generator") == []  # nothing half-registered
    assert registry.loaded == []


def test_api_mismatch_names_both_versions():
    with pytest.warns(PluginLoadWarning) as caught:
        registry = load("future_api")
    message = str(caught[0].message)
    assert "plugin future_api (dist-future_api 1.0) failed to load" in message
    assert (f"written for srkit plugin API 99; this srkit speaks API {OLDEST_PLUGIN_API} to "
            f"{PLUGIN_API_VERSION}" in message)
    assert registry.names("generator") == []


@pytest.mark.parametrize(("declared", "loads"), [
    (OLDEST_PLUGIN_API - 1, False), (OLDEST_PLUGIN_API, True), (PLUGIN_API_VERSION, True),
    (PLUGIN_API_VERSION + 1, False), ("4", False)])
def test_plugins_of_every_compatible_api_version_load(declared: object, loads: bool) -> None:
    """A version that only added names does not refuse the plugins written before it."""
    from srkit.plugins import _check_api_version

    module = types.SimpleNamespace(SRKIT_PLUGIN_API=declared)
    if loads:
        _check_api_version(module)
    else:
        with pytest.raises(PluginError, match=f"written for srkit plugin API {declared!r}"):
            _check_api_version(module)


def test_duplicate_name_refuses_the_second_plugin_naming_both():
    with pytest.warns(PluginLoadWarning) as caught:
        registry = load("clash_a", "clash_b")
    assert ("generator 'clash' is registered twice: by plugin clash_a (dist-clash_a 1.0) "
            "and by plugin clash_b (dist-clash_b 1.0)") in str(caught[0].message)
    assert registry.entry("generator", "clash").origin.plugin == "clash_a"
    assert "only-in-b" not in registry.names("generator")
    assert [f.origin.plugin for f in registry.failed] == ["clash_b"]


@pytest.mark.parametrize("invalid, message", [
    ("recipe", "recipe 'not-a-recipe' is <class .*NotARecipe'>, not a subclass of "
               "srkit.interfaces.Recipe"),
    ("generator", "generator 'not-callable' is Identity\\(\\), not a factory"),
    ("name", "generator name 'Bad Name' must be lower-case"),
])
def test_invalid_registration_refuses_the_plugin(monkeypatch, invalid, message):
    monkeypatch.setattr(fixture("invalid_items"), "INVALID", invalid)
    with pytest.warns(PluginLoadWarning, match=message):
        registry = load("invalid_items")
    assert "fine" not in registry.names("generator")


def test_misspelt_hook_is_reported_with_a_suggestion():
    with pytest.warns(PluginLoadWarning, match="register_generator is not an srkit hook "
                                               "\\(did you mean register_generators\\?\\)"):
        load("misspelt_hook")


def test_a_refused_plugin_can_be_loaded_again_after_fixing(monkeypatch):
    module = fixture("invalid_items")
    monkeypatch.setattr(module, "INVALID", "recipe")
    with pytest.warns(PluginLoadWarning):
        registry, manager = build_registry([(module, Origin("x"))])
    assert not manager.is_registered(module)
    monkeypatch.setattr(module, "INVALID", "")
    registry, manager = build_registry([(module, Origin("x"))])
    assert registry.names("generator") == ["fine"] and not registry.failed


def test_hook_with_a_wrong_argument_name_is_refused_in_one_line():
    class Plugin:
        @hookimpl
        def register_generators(self, reg) -> None:  # noqa: ANN001
            reg("never", object)

    with pytest.warns(PluginLoadWarning) as caught:
        registry, _ = build_registry([(Plugin(), Origin("wrong-arg"))])
    assert "PluginValidationError" in registry.failed[0].error
    assert "{'reg'}" in registry.failed[0].error and "\n" not in str(caught[0].message)


def test_hook_may_omit_the_register_argument():
    class Plugin:
        called = False

        @hookimpl
        def register_generators(self) -> None:
            Plugin.called = True

    registry, _ = build_registry([(Plugin(), Origin("no-args"))])
    assert Plugin.called and not registry.failed


def test_entry_point_plugins_carry_their_distribution(site):
    make_distribution(site, "srkit-clash-a", "3.1", {"clash-a": f"{FIXTURES}.clash_a"})
    origin = get_registry().entry("generator", "clash").origin
    assert origin == Origin("clash-a", "srkit-clash-a", "3.1")
    assert lookup("generator", "bicubic") is not None  # built-ins load through the same path


def test_srkit_plugins_env_loads_only_the_named_plugins_and_core(site, monkeypatch):
    make_distribution(site, "srkit-clash-a", "1.0", {"clash-a": f"{FIXTURES}.clash_a"})
    make_distribution(site, "srkit-clash-b", "1.0", {"clash-b": f"{FIXTURES}.clash_b"})
    monkeypatch.setenv("SRKIT_PLUGINS", "clash-b")
    registry = get_registry()
    assert [o.plugin for o in registry.loaded] == ["core", "clash-b"]
    assert registry.entry("generator", "clash").origin.plugin == "clash-b"


def test_disabled_plugins_are_skipped(site, monkeypatch):
    make_distribution(site, "srkit-broken", "1.0", {"broken": f"{FIXTURES}.broken_import"})
    installed = {ep.name for ep in entry_points(group="srkit")} | {"broken"}
    monkeypatch.setenv("SRKIT_DISABLE_PLUGINS", ",".join(sorted(installed - {"core"})))
    registry = get_registry()
    assert [o.plugin for o in registry.loaded] == ["core"] and not registry.failed


def test_unknown_name_in_srkit_plugins_is_warned_about(site, monkeypatch):
    monkeypatch.setenv("SRKIT_PLUGINS", "espnc")
    with pytest.warns(PluginLoadWarning, match="SRKIT_PLUGINS names espnc, which no installed"):
        get_registry()


def test_plugin_modules_env_loads_a_module_without_an_entry_point(site, monkeypatch):
    monkeypatch.setenv("SRKIT_PLUGINS", "core")
    monkeypatch.setenv("SRKIT_PLUGIN_MODULES", f"{FIXTURES}.clash_a")
    origin = get_registry().entry("generator", "only-in-a").origin
    assert origin == Origin(f"{FIXTURES}.clash_a", "SRKIT_PLUGIN_MODULES", "")


def test_two_distributions_with_the_same_plugin_name_are_told_apart(site, monkeypatch):
    make_distribution(site, "srkit-one", "1.0", {"same": f"{FIXTURES}.clash_a"})
    make_distribution(site, "srkit-two", "2.0", {"same": f"{FIXTURES}.commands"})
    monkeypatch.setenv("SRKIT_PLUGINS", "same")
    with pytest.warns(PluginLoadWarning, match="plugin name 'same' is already taken by plugin "
                                               "same \\(srkit-one 1.0\\)"):
        registry = get_registry()
    assert [str(f.origin) for f in registry.failed] == ["same (srkit-two 2.0)"]


def test_cli_lists_broken_plugins_and_keeps_working(site, monkeypatch, capsys):
    make_distribution(site, "srkit-broken", "0.3", {"broken": f"{FIXTURES}.broken_import"})
    make_distribution(site, "srkit-future", "9.0", {"future": f"{FIXTURES}.future_api"})
    monkeypatch.setenv("SRKIT_PLUGINS", "broken,future")
    with pytest.warns(PluginLoadWarning):
        code, out, _ = run_cli(capsys, "plugins")
    assert code == 0
    assert "  broken (srkit-broken 0.3)  FAILED: import failed: ModuleNotFoundError" in out
    assert "  future (srkit-future 9.0)  FAILED: it was written for srkit plugin API 99" in out
    assert "  bicubic" in out  # the rest still works

    reset_registry()
    with pytest.warns(PluginLoadWarning):
        code, _, _ = run_cli(capsys, "plugins", "--strict")
    assert code == 1


def test_cli_json_lists_plugins_and_items(site, monkeypatch, capsys):
    make_distribution(site, "srkit-broken", "0.3", {"broken": f"{FIXTURES}.broken_import"})
    make_distribution(site, "srkit-clash-a", "1.5", {"clash-a": f"{FIXTURES}.clash_a"})
    monkeypatch.setenv("SRKIT_PLUGINS", "broken,clash-a")
    with pytest.warns(PluginLoadWarning):
        code, out, _ = run_cli(capsys, "plugins", "--json")
    document = json.loads(out)
    assert code == 0 and document["plugin_api"] == PLUGIN_API_VERSION
    statuses = {p["plugin"]: p["status"] for p in document["plugins"]}
    assert statuses == {"core": "loaded", "clash-a": "loaded", "broken": "failed"}
    clash = next(i for i in document["items"] if i["name"] == "clash")
    assert clash["kind"] == "generator" and clash["distribution"] == "srkit-clash-a"
    assert clash["version"] == "1.5" and clash["object"] == "torch.nn.modules.linear.Identity"


def test_plugin_command_is_added_and_cannot_shadow_a_builtin(site, monkeypatch, capsys):
    make_distribution(site, "srkit-hello", "1.0", {"hello": f"{FIXTURES}.commands"})
    monkeypatch.setenv("SRKIT_PLUGINS", "hello")
    with pytest.warns(PluginLoadWarning, match="command 'train' is not added, 'srkit train' is a "
                                               "built-in command"):
        code, out, _ = run_cli(capsys, "hello", "--name", "plugins")
    assert (code, out) == (0, "hello, plugins\n")
    assert get_registry().entry("command", "hello").origin == Origin("hello", "srkit-hello", "1.0")


def test_register_commands_that_raises_does_not_break_the_cli(site, monkeypatch, capsys):
    make_distribution(site, "srkit-nocmd", "1.0", {"nocmd": f"{FIXTURES}.raising_commands"})
    monkeypatch.setenv("SRKIT_PLUGINS", "nocmd")
    with pytest.warns(PluginLoadWarning, match="register_commands raised ValueError: no commands"):
        code, out, _ = run_cli(capsys, "plugins")
    assert code == 0 and "nocmd (srkit-nocmd 1.0)  FAILED" in out


def test_plugin_manager_knows_the_loaded_plugins(site, monkeypatch):
    monkeypatch.setenv("SRKIT_PLUGINS", "core")
    assert get_plugin_manager().has_plugin("core")


def test_plugins_are_imported_only_when_the_registry_is_first_used(site, monkeypatch):
    module_name = f"{FIXTURES}.clash_a"
    make_distribution(site, "srkit-clash-a", "1.0", {"clash-a": module_name})
    monkeypatch.setenv("SRKIT_PLUGINS", "clash-a")
    monkeypatch.delitem(sys.modules, module_name, raising=False)
    assert module_name not in sys.modules
    get_registry()
    assert module_name in sys.modules
