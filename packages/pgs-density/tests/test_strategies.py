"""Strategies: Eq. 1 / Eq. 2 statistics against float64 references, properties, mechanism, schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pgs.core.errors import ConfigError
from pgs.core.interfaces import DensityReport
from pgs.core.registry import registry
from pgs.core.testing import check_density
from pgs.core.testing.properties import int_ranges, property_test
from pgs.density import GradientConfig, GradientStrategy, PixelAwareConfig, PixelAwareStrategy
from pgs.density.specs import GRADIENT, PIXEL_AWARE

W, H = 64, 48
#: Growth only, refine at every step > 0: isolates the densification decisions.
GROWTH_ONLY = dict(
    refine_from=0,
    refine_every=1,
    refine_until=10**6,
    prune_opacity_start=0.0,
    prune_opacity_end=0.0,
    prune_world_size=None,
    prune_screen_size=None,
)


def _random_views(c, n, seed, zero_frac=0.3):
    """[C,N,2] pixel gradients, [C,N] radii (some 0), depths, pixel counts."""
    g = torch.Generator().manual_seed(seed)
    # |g_ndc| ~ |g_px| * W/2 * C; choose pixel gradients around the 2e-4 threshold.
    grad = torch.randn(c, n, 2, generator=g) * (2e-4 / (W / 2) / c) * torch.rand(c, n, 1, generator=g) * 3
    radii = torch.randint(1, 10, (c, n), generator=g, dtype=torch.int32)
    radii[torch.rand(c, n, generator=g) < zero_frac] = 0
    depths = torch.rand(c, n, generator=g) * 3 + 0.3
    counts = torch.randint(1, 500, (c, n), generator=g, dtype=torch.int32) * (radii > 0)
    return grad, radii, depths, counts


def _run(strategy, factories, views, n, seed=0, scene_extent=1.0):
    """Feed each (grad, radii, depths, counts) as one step (steps 1..len); return params and reports."""
    params = factories["params"](n, seed=seed)
    optimizers = factories["optimizers"](params)
    state = strategy.initial_state(params, scene_extent)
    reports = []
    for step, (grad, radii, depths, counts) in enumerate(views, start=1):
        render = factories["render"](grad, radii, depths, counts, W, H)
        strategy.step_pre_backward(params, optimizers, state, step, render)
        reports.append(strategy.step_post_backward(params, optimizers, state, step, render))
    return params, reports, state


def _reference_average(views, weighting, z_min=0.2):
    """Float64 numpy reference of Eq. 1 ('visible') or Eq. 2 with Eq. 4 ('pixels')."""
    num = den = 0.0
    for grad, radii, depths, counts in views:
        c = grad.shape[0]
        g = grad.double().numpy() * np.array([W / 2 * c, H / 2 * c])
        norm = np.sqrt((g**2).sum(-1))
        visible = radii.numpy() > 0
        if weighting == "visible":
            w = visible.astype(np.float64)
        else:
            w = np.where(visible & (depths.double().numpy() > z_min), counts.double().numpy(), 0.0)
        num = num + (w * norm).sum(0)
        den = den + w.sum(0)
    return np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)


@settings(max_examples=15, deadline=None)
@given(c=st.integers(1, 4), n=st.integers(1, 20), steps=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_statistics_match_float64_references(factories, c, n, steps, seed):
    views = [_random_views(c, n, seed + i) for i in range(steps)]
    for depths_low in (False, True):
        if depths_low:  # some views fail Eq. 4 by depth: ignored by Eq. 2 only
            views = [(g, r, d * torch.where(torch.rand(d.shape) < 0.3, 0.05, 1.0), m) for g, r, d, m in views]
        cfg = dict(GROWTH_ONLY, refine_from=10**5, refine_until=10**6)  # accumulate only
        _, _, state_g = _run(GradientStrategy(GradientConfig(**cfg)), factories, views, n)
        _, _, state_p = _run(PixelAwareStrategy(PixelAwareConfig(**cfg)), factories, views, n)
        np.testing.assert_allclose(state_g.average().numpy(), _reference_average(views, "visible"), rtol=1e-6)
        np.testing.assert_allclose(state_p.average().numpy(), _reference_average(views, "pixels"), rtol=1e-6)


def _same_outcome(run_a, run_b):
    params_a, reports_a, _ = run_a
    params_b, reports_b, _ = run_b
    assert reports_a == reports_b
    assert params_a.keys() == params_b.keys()
    for k in params_a:
        assert torch.equal(params_a[k], params_b[k]), k


@property_test(30, **int_ranges(c=(1, 4), n=(1, 25), steps=(1, 4), count=(1, 5000), seed=(0, 10**6)))
def test_equal_pixel_counts_give_the_gradient_decisions(factories, c, n, steps, count, seed):
    """Eq. 2 with m_k = const in every (valid) view is Eq. 1: same clones, splits and resulting tensors."""
    views = []
    for i in range(steps):
        grad, radii, _, _ = _random_views(c, n, seed + i)
        depths = torch.full((c, n), 1.0)  # every visible view valid (Eq. 4)
        views.append((grad, radii, depths, torch.where(radii > 0, count, 0).int()))
    grow = dict(GROWTH_ONLY, refine_every=steps)  # one refine at the last step
    _same_outcome(
        _run(GradientStrategy(GradientConfig(**grow)), factories, views, n),
        _run(PixelAwareStrategy(PixelAwareConfig(**grow)), factories, views, n),
    )


@property_test(30, **int_ranges(c=(1, 4), n=(1, 25), steps=(1, 3), factor=(2, 1000), seed=(0, 10**6)))
def test_scaling_all_counts_changes_nothing(factories, c, n, steps, factor, seed):
    views = [_random_views(c, n, seed + i) for i in range(steps)]
    scaled = [(g, r, d, m * factor) for g, r, d, m in views]
    grow = dict(GROWTH_ONLY, refine_every=steps)
    strategy = PixelAwareStrategy(PixelAwareConfig(**grow))
    _same_outcome(_run(strategy, factories, views, n), _run(strategy, factories, scaled, n))


@settings(max_examples=30, deadline=None)
@given(c=st.integers(1, 3), n=st.integers(1, 20), seed=st.integers(0, 10**6))
def test_zero_pixel_view_does_not_move_the_average(factories, c, n, seed):
    views = [_random_views(c, n, seed)]
    grad, radii, depths, counts = _random_views(1, n, seed + 1, zero_frac=0.0)  # visible everywhere
    zero = torch.rand(1, n, generator=torch.Generator().manual_seed(seed)) < 0.5
    counts = torch.where(zero, 0, counts).int()
    grad = grad * 50  # a large gradient there must not matter when no pixel is covered
    cfg = PixelAwareConfig(**dict(GROWTH_ONLY, refine_from=10**5))
    _, _, before = _run(PixelAwareStrategy(cfg), factories, views, n)
    _, _, after = _run(PixelAwareStrategy(cfg), factories, [*views, (grad, radii, depths, counts)], n)
    z = zero[0]
    assert torch.equal(before.average()[z], after.average()[z])
    assert torch.equal(before.weight_sum[z], after.weight_sum[z])
    # ... while the same view does move the Eq. 1 average of visible Gaussians.
    _, _, g_before = _run(GradientStrategy(GradientConfig(**dict(GROWTH_ONLY, refine_from=10**5))), factories, views, n)
    _, _, g_after = _run(
        GradientStrategy(GradientConfig(**dict(GROWTH_ONLY, refine_from=10**5))),
        factories,
        [*views, (grad, radii, depths, counts)],
        n,
    )
    assert torch.equal(g_after.weight_sum, g_before.weight_sum + 1)


@property_test(25, **int_ranges(n=(1, 15), cap_extra=(0, 20), steps=(1, 6), seed=(0, 10**6)), pixel=st.booleans())
def test_cap_is_never_exceeded(factories, n, cap_extra, steps, seed, pixel):
    cap = n + cap_extra
    cfg = dict(GROWTH_ONLY, grad_threshold=1e-6, max_gaussians=cap)
    strategy = PixelAwareStrategy(PixelAwareConfig(**cfg)) if pixel else GradientStrategy(GradientConfig(**cfg))
    params = factories["params"](n, seed=seed)
    optimizers = factories["optimizers"](params)
    state = strategy.initial_state(params, 1.0)
    for step in range(1, steps + 1):
        count = params["means"].shape[0]
        grad, radii, depths, counts = _random_views(2, count, seed + step, zero_frac=0.0)
        render = factories["render"](grad * 100, radii, depths, counts, W, H)
        strategy.step_pre_backward(params, optimizers, state, step, render)
        report = strategy.step_post_backward(params, optimizers, state, step, render)
        assert report.total == params["means"].shape[0] <= cap
        assert all(v.shape[0] == report.total for v in params.values())
    if cap_extra >= 1:
        assert params["means"].shape[0] > n  # it did grow up to the budget


def test_mechanism_pixel_aware_densifies_the_large_view_gaussian(factories):
    """Seen large (400 px) with a large gradient in one view, and as 4 px with small gradients in 9 others.

    Eq. 1 averages 10 views: (1e-3 + 9 * 1e-5) / 10 = 1.09e-4 < 2e-4, no densification.
    Eq. 2 weights by pixels: (400 * 1e-3 + 9 * 4 * 1e-5) / 436 = 9.18e-4 >= 2e-4, densified.
    """
    c = 10
    ndc = torch.tensor([1e-3] + [1e-5] * 9)
    grad = torch.zeros(c, 1, 2)
    grad[:, 0, 0] = ndc / (W / 2)  # one image per step, so the NDC factor is W/2
    radii = torch.tensor([[12]] + [[1]] * 9, dtype=torch.int32)
    counts = torch.tensor([[400]] + [[4]] * 9, dtype=torch.int32)
    depths = torch.full((c, 1), 2.0)
    views = [(grad[k : k + 1], radii[k : k + 1], depths[k : k + 1], counts[k : k + 1]) for k in range(c)]
    cfg = dict(GROWTH_ONLY, refine_from=c - 1, refine_every=c, grad_threshold=2e-4)
    _, reports_g, _ = _run(GradientStrategy(GradientConfig(**cfg)), factories, views, 1)
    params_p, reports_p, _ = _run(PixelAwareStrategy(PixelAwareConfig(**cfg)), factories, views, 1)
    assert reports_g[-1].refined and reports_g[-1].cloned + reports_g[-1].split == 0 and reports_g[-1].total == 1
    assert reports_p[-1].refined and reports_p[-1].cloned + reports_p[-1].split == 1 and reports_p[-1].total == 2
    assert params_p["means"].shape[0] == 2


def test_eq4_depth_and_depth_scaling(factories):
    grad = torch.zeros(2, 1, 2)
    grad[:, 0, 1] = torch.tensor([1e-3, 3e-4]) / (H / 2 * 2)  # C = 2, loss mean: factor H/2 * C
    radii = torch.tensor([[5], [5]], dtype=torch.int32)
    counts = torch.tensor([[100], [50]], dtype=torch.int32)
    depths = torch.tensor([[0.1], [2.0]])  # view 0 closer than z_min = 0.2: invalid (Eq. 4)
    accumulate = dict(GROWTH_ONLY, refine_from=10**5)
    views = [(grad, radii, depths, counts)]
    _, _, state = _run(PixelAwareStrategy(PixelAwareConfig(**accumulate)), factories, views, 1)
    assert state.average().item() == pytest.approx(3e-4, rel=1e-5)
    _, _, state = _run(
        PixelAwareStrategy(PixelAwareConfig(**accumulate, z_min=0.05)), factories, [(grad, radii, depths, counts)], 1
    )
    assert state.average().item() == pytest.approx((100 * 1e-3 + 50 * 3e-4) / 150, rel=1e-5)
    # Pixel-GS depth scaling with threshold 0.37 * extent(=2): factor min(1, (d / 0.74)^2).
    scaled = PixelAwareStrategy(PixelAwareConfig(**accumulate, z_min=0.05, depth_scaling=True))
    _, _, state = _run(scaled, factories, [(grad, radii, depths, counts)], 1, scene_extent=2.0)
    f0 = (0.1 / 0.74) ** 2
    assert state.average().item() == pytest.approx((100 * 1e-3 * f0 + 50 * 3e-4) / 150, rel=1e-5)
    # loss_reduction="sum": no multiplication by C.
    summed = PixelAwareStrategy(PixelAwareConfig(**accumulate, loss_reduction="sum"))
    _, _, state = _run(summed, factories, [(grad, radii, depths, counts)], 1)
    assert state.average().item() == pytest.approx(3e-4 / 2, rel=1e-5)


def test_clone_small_split_large_and_schedule(factories):
    """Clone when max scale <= percent_dense * extent, split otherwise; refine only inside the window."""
    strategy = GradientStrategy(
        GradientConfig(
            refine_from=2, refine_every=2, refine_until=7, percent_dense=0.01, prune_opacity_start=0.0,
            prune_opacity_end=0.0, prune_world_size=None, prune_screen_size=None,
        )
    )
    params = factories["params"](2)
    with torch.no_grad():
        params["log_scales"][0] = math.log(0.005)  # small: 0.005 <= 0.01 * 1
        params["log_scales"][1] = math.log(0.05)  # large
    optimizers = factories["optimizers"](params)
    state = strategy.initial_state(params, 1.0)
    refined_at = []
    for step in range(10):
        n = params["means"].shape[0]
        render = factories["render"](torch.full((1, n, 2), 1e-2), None, None, None, W, H)
        strategy.step_pre_backward(params, optimizers, state, step, render)
        report = strategy.step_post_backward(params, optimizers, state, step, render)
        if report.refined:
            refined_at.append(step)
            if step == 4:
                assert (report.cloned, report.split) == (1, 1)
                assert report.total == 4  # 2 + 1 clone + (2 children - 1 parent)
    assert refined_at == [4, 6]  # > refine_from, % refine_every, < refine_until


def test_pruning_rules(factories):
    cfg = GradientConfig(
        refine_from=0, refine_every=1, refine_until=1000, grad_threshold=1.0, prune_size_from=500,
        prune_world_size=0.1, prune_screen_size=20.0,
    )
    strategy = GradientStrategy(cfg)
    assert strategy.opacity_threshold(0) == pytest.approx(0.05)
    assert strategy.opacity_threshold(500) == pytest.approx(0.175)
    assert strategy.opacity_threshold(1000) == pytest.approx(0.3)

    def run_once(step, opacity, scale, radius):
        params = factories["params"](1)
        with torch.no_grad():
            params["opacity_logits"][0] = math.log(opacity / (1 - opacity))
            params["log_scales"][0] = math.log(scale)
        optimizers = factories["optimizers"](params)
        state = strategy.initial_state(params, 2.0)
        render = factories["render"](torch.zeros(1, 1, 2), torch.tensor([[radius]]), None, None, W, H)
        strategy.step_pre_backward(params, optimizers, state, step, render)
        return strategy.step_post_backward(params, optimizers, state, step, render).pruned

    assert run_once(100, 0.06, 0.01, 3) == 1  # threshold at 100 is 0.075
    assert run_once(100, 0.08, 0.01, 3) == 0
    assert run_once(400, 0.9, 0.5, 30) == 0  # size pruning not yet active
    assert run_once(600, 0.9, 0.5, 3) == 1  # world: 0.5 > 0.1 * extent(2)
    assert run_once(600, 0.9, 0.01, 30) == 1  # screen: 30 px > 20
    assert run_once(600, 0.9, 0.01, 3) == 0


@pytest.mark.parametrize("cls", [GradientConfig, PixelAwareConfig])
def test_default_screen_size_pruning_never_fires_as_in_3dgs(factories, cls):
    """3DGS/TalkingGaussian zero max_radii2D in densification_postfix before the screen test: it never fires.

    The default reproduces that; prune_screen_size=20 applies the test as written.
    """
    assert cls().prune_screen_size is None

    def pruned(config):
        strategy = GradientStrategy(config) if cls is GradientConfig else PixelAwareStrategy(config)
        params = factories["params"](1)
        with torch.no_grad():
            params["opacity_logits"][0] = 5.0
            params["log_scales"][0] = math.log(0.01)
        optimizers = factories["optimizers"](params)
        state = strategy.initial_state(params, 2.0)
        render = factories["render"](torch.zeros(1, 1, 2), torch.tensor([[300]]), None, None, W, H)
        strategy.step_pre_backward(params, optimizers, state, 3100, render)
        return strategy.step_post_backward(params, optimizers, state, 3100, render).pruned

    assert pruned(cls(grad_threshold=1.0)) == 0  # a 300-px Gaussian after step 3000 survives
    assert pruned(cls(grad_threshold=1.0, prune_screen_size=20.0)) == 1


def test_opacity_reset(factories):
    strategy = GradientStrategy(GradientConfig(refine_from=10, refine_until=100, opacity_reset_every=5))
    params = factories["params"](6)
    optimizers = factories["optimizers"](params)
    state = strategy.initial_state(params, 1.0)
    for step in (4, 5):
        render = factories["render"](torch.zeros(1, 6, 2))
        strategy.step_pre_backward(params, optimizers, state, step, render)
        report = strategy.step_post_backward(params, optimizers, state, step, render)
        assert report.reset_opacity == (step == 5) and report.changed == (step == 5)
    assert float(torch.sigmoid(params["opacity_logits"].detach()).max()) <= 0.01 + 1e-6


def test_outside_window_does_nothing_and_needs_no_gradient(factories):
    strategy = PixelAwareStrategy(PixelAwareConfig(refine_from=10, refine_until=100))
    params = factories["params"](3)
    optimizers = factories["optimizers"](params)
    state = strategy.initial_state(params, 1.0)
    render = factories["render"](torch.zeros(1, 3, 2))
    render.means2d.grad = None
    strategy.step_pre_backward(params, optimizers, state, 100, render)
    assert strategy.step_post_backward(params, optimizers, state, 100, render) == DensityReport(total=3)


def test_errors(factories):
    strategy = GradientStrategy()
    params = factories["params"](3)
    optimizers = factories["optimizers"](params)
    state = strategy.initial_state(params, 1.0)
    with pytest.raises(ValueError, match="scene_extent"):
        strategy.initial_state(params, 0.0)
    render = factories["render"](torch.zeros(1, 4, 2))
    with pytest.raises(ValueError, match="4 Gaussians but params have 3"):
        strategy.step_post_backward(params, optimizers, state, 1, render)
    render = factories["render"](torch.zeros(1, 3, 2))
    render.means2d.grad = None
    with pytest.raises(ValueError, match="no gradient: call step_pre_backward"):
        strategy.step_post_backward(params, optimizers, state, 1, render)
    other = strategy.initial_state(factories["params"](5), 1.0)
    with pytest.raises(ValueError, match="describes 5 Gaussians but params have 3"):
        strategy.step_post_backward(params, optimizers, other, 1, factories["render"](torch.zeros(1, 3, 2)))
    no_grad = factories["render"](torch.zeros(1, 3, 2))
    no_grad.means2d = no_grad.means2d.detach()
    with pytest.raises(ValueError, match="does not require grad"):
        strategy.step_pre_backward(params, optimizers, state, 1, no_grad)
    with pytest.raises(ValidationError, match="refine_until"):
        GradientConfig(refine_from=100, refine_until=100)
    with pytest.raises(ConfigError, match="z_min"):
        registry("pgs.density").create("pixel-aware", {"z_min": -1})


def test_registry_and_contract():
    reg = registry("pgs.density")
    assert {"gradient", "pixel-aware"} <= set(reg.names())
    assert isinstance(reg.create("gradient"), GradientStrategy)
    pa = reg.create("pixel-aware", {"grad_threshold": 5e-4})
    assert isinstance(pa, PixelAwareStrategy) and pa.config.grad_threshold == 5e-4
    check_density(GRADIENT)
    check_density(PIXEL_AWARE)
    refine_often = dict(
        refine_from=0, refine_every=1, refine_until=100, grad_threshold=1e-5, prune_size_from=2, opacity_reset_every=3
    )
    check_density(GRADIENT, GradientConfig(**refine_often), steps=range(1, 7))
    check_density(PIXEL_AWARE, PixelAwareConfig(**refine_often, depth_scaling=True), steps=range(1, 7))
