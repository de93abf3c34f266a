"""The registry refuses clashes and objects of the wrong sort, with messages naming the plugins."""

from __future__ import annotations

import pytest
from torch import nn

from srkit.errors import PluginError, SrkitError
from srkit.registry import Entry, Origin, Registry

A = Origin("a", "dist-a", "1.0")
B = Origin("b", "dist-b", "2.0")


def test_duplicate_name_names_both_plugins_and_distributions():
    registry = Registry()
    registry.add("generator", "foo", nn.Identity, A)
    with pytest.raises(PluginError) as info:
        registry.add("generator", "foo", nn.Identity, B)
    assert str(info.value) == ("generator 'foo' is registered twice: by plugin a (dist-a 1.0) "
                               "and by plugin b (dist-b 2.0)")


def test_same_name_in_two_kinds_is_not_a_clash():
    registry = Registry()
    registry.add("generator", "espcn", nn.Identity, A)
    registry.add("converter", "espcn", lambda state, **kw: None, A)
    assert registry.names("generator") == registry.names("converter") == ["espcn"]


def test_add_all_is_all_or_nothing():
    registry = Registry()
    registry.add("loss", "taken", nn.L1Loss, A)
    entries = [Entry("loss", "new", nn.MSELoss, B), Entry("loss", "taken", nn.MSELoss, B)]
    with pytest.raises(PluginError, match="registered twice"):
        registry.add_all(entries)
    assert registry.names("loss") == ["taken"]


@pytest.mark.parametrize("name", ["Foo", "with space", "", "a=b", "a,b", "-lead"])
def test_names_that_cannot_be_typed_on_the_command_line_are_refused(name):
    with pytest.raises(PluginError, match="must be lower-case"):
        Registry().add("generator", name, nn.Identity, A)


def test_unknown_kind_is_refused():
    with pytest.raises(PluginError, match="unknown kind 'model'"):
        Registry().add("model", "x", nn.Identity, A)


def test_factory_that_is_not_callable_is_refused():
    with pytest.raises(PluginError, match="generator 'x' is Identity\\(\\), not a factory"):
        Registry().add("generator", "x", nn.Identity(), A)


def test_recipe_must_be_a_recipe_subclass():
    class NotARecipe:
        pass

    with pytest.raises(PluginError, match="not a subclass of srkit.interfaces.Recipe"):
        Registry().add("recipe", "x", NotARecipe, A)


def test_abstract_recipe_is_refused_naming_the_missing_method():
    from srkit.interfaces import Recipe

    class Unfinished(Recipe):
        pass

    with pytest.raises(PluginError, match="does not implement train_step"):
        Registry().add("recipe", "x", Unfinished, A)


def test_unknown_name_lists_what_is_installed():
    registry = Registry()
    registry.add("generator", "espcn", nn.Identity, A)
    with pytest.raises(SrkitError, match="unknown generator 'espnc'; installed: espcn"):
        registry.get("generator", "espnc")


def test_origin_reads_as_plugin_distribution_version():
    assert str(A) == "a (dist-a 1.0)"
    assert str(Origin("m", "SRKIT_PLUGIN_MODULES", "")) == "m (SRKIT_PLUGIN_MODULES)"
