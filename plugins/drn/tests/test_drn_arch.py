"""DRN primal network and dual models: shapes at every level, published sizes, [0,1] interface."""

from __future__ import annotations

import json

import pytest
import torch

from srkit.api import SrkitError, build_generator, count_parameters
from srkit_drn.arch import DRN, PIXEL_RANGE, RGB_MEAN, DualModels, drn_l, drn_s

#: parameters of the primal networks as published (millions, one decimal)
PUBLISHED_MILLIONS = {("s", 4): 4.8, ("s", 8): 5.4, ("l", 4): 9.8, ("l", 8): 10.0}


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_outputs_exist_at_every_x2_level(scale: int) -> None:
    model = DRN(scale=scale, n_feats=4, n_blocks=1).eval()
    lr = torch.rand(2, 3, 5, 7)
    with torch.no_grad():
        levels = model.forward_levels(lr)
        final = model(lr)
    assert [tuple(x.shape) for x in levels] == [
        (2, 3, 5 * 2**k, 7 * 2**k) for k in range(len(levels))
    ]
    assert 2 ** (len(levels) - 1) == scale
    torch.testing.assert_close(final, levels[-1])


@pytest.mark.parametrize(("factory", "scale", "lr_size"), [(drn_s, 4, 6), (drn_s, 8, 3)])
def test_published_networks_run_at_every_level(factory, scale: int, lr_size: int) -> None:
    model = factory(scale=scale).eval()
    with torch.no_grad():
        levels = model.forward_levels(torch.rand(1, 3, lr_size, lr_size))
    assert [x.shape[-1] for x in levels] == [lr_size * 2**k for k in range(len(levels))]


@pytest.mark.parametrize(("variant", "scale"), list(PUBLISHED_MILLIONS))
def test_parameter_counts_match_the_paper(variant: str, scale: int) -> None:
    factory = drn_s if variant == "s" else drn_l
    with torch.device("meta"):
        primal = count_parameters(factory(scale=scale))
        duals = count_parameters(DualModels(scale, factory(scale=scale).n_feats))
    assert round(primal / 1e6, 1) == PUBLISHED_MILLIONS[variant, scale]
    # the dual models are tiny: the published count is the same with or without them
    assert round((primal + duals) / 1e6, 1) == PUBLISHED_MILLIONS[variant, scale]


@pytest.mark.parametrize("scale", [4, 8])
def test_dual_models_map_each_level_to_the_one_below(scale: int) -> None:
    model = DRN(scale=scale, n_feats=4, n_blocks=1)
    duals = DualModels(scale, 4)
    levels = model.forward_levels(torch.rand(2, 3, 6, 4))
    back = duals(levels)
    assert len(back) == len(levels) - 1
    for lower, mapped in zip(levels[:-1], back, strict=True):
        assert mapped.shape == lower.shape


def test_fresh_model_starts_with_the_official_mean_shift() -> None:
    model = DRN(scale=4, n_feats=4, n_blocks=1)
    mean = PIXEL_RANGE * torch.tensor(RGB_MEAN)
    torch.testing.assert_close(model.sub_mean.bias.detach(), -mean)
    torch.testing.assert_close(model.add_mean.bias.detach(), mean)
    assert model.sub_mean.weight.requires_grad and model.add_mean.bias.requires_grad


def test_output_is_in_unit_range_with_the_mean_added_back() -> None:
    """With silenced tails every level outputs exactly the DIV2K mean in [0, 1] units: the
    official 0..255 computation is scaled in and out (a missing /255 would give ~114)."""
    model = DRN(scale=4, n_feats=4, n_blocks=1).eval()
    with torch.no_grad():
        for tail in model.tail:
            tail.weight.zero_()
            tail.bias.zero_()
        levels = model(torch.rand(2, 3, 4, 4), all_levels=True)
    mean = torch.tensor(RGB_MEAN).view(1, 3, 1, 1)
    assert [tuple(level.shape[-2:]) for level in levels] == [(4, 4), (8, 8), (16, 16)]
    for level in levels:
        torch.testing.assert_close(level, mean.expand_as(level))


def test_registry_builds_presets_and_records_the_preset_sizes() -> None:
    model = build_generator("drn-l", scale=8)
    assert (model.scale, model.n_feats, model.n_blocks) == (8, 10, 36)
    # the preset sizes are stored, so a later change of the presets cannot rebuild it differently
    assert json.loads(json.dumps(model.srkit_kwargs)) == {"scale": 8, "n_feats": 10, "n_blocks": 36}


def test_unpublished_scale_needs_explicit_sizes() -> None:
    with pytest.raises(SrkitError, match="no published size for x2"):
        drn_s(scale=2)
    assert drn_s(scale=2, n_feats=4, n_blocks=1).scale == 2


def test_scale_that_is_not_a_power_of_two_is_a_one_line_error() -> None:
    with pytest.raises(SrkitError, match="power of two"):
        DRN(scale=3, n_feats=4, n_blocks=1)
