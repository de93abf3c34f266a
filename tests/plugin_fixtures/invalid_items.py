"""A plugin registering things of the wrong sort: selected by ``INVALID`` (set by the tests)."""

from torch import nn

from srkit.hookspecs import Register, hookimpl

SRKIT_PLUGIN_API = 4
INVALID = "recipe"


class NotARecipe:
    """Has a train_step, but is not a srkit Recipe."""

    def train_step(self, batch, ctx):  # noqa: ANN001, ANN201
        return {}


@hookimpl
def register_generators(register: Register) -> None:
    register("fine", nn.Identity)
    if INVALID == "generator":
        register("not-callable", nn.Identity())
    if INVALID == "name":
        register("Bad Name", nn.Identity)


@hookimpl
def register_recipes(register: Register) -> None:
    if INVALID == "recipe":
        register("not-a-recipe", NotARecipe)
