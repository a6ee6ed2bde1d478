"""Row operations: optimizer state stays row-aligned, prune/clone/split do exactly what they say."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from pgs.density import ops


def _snapshot(params, optimizers):
    data = {k: v.detach().clone() for k, v in params.items()}
    state = {
        k: {s: t.clone() for s, t in opt.state[params[k]].items() if t.dim() >= 1} for k, opt in optimizers.items()
    }
    return data, state


def _check_aligned(params, optimizers):
    n = params["means"].shape[0]
    for name, p in params.items():
        assert isinstance(p, nn.Parameter)
        assert p.shape[0] == n, name
        assert torch.isfinite(p).all(), name
        assert p.requires_grad == (name != "frozen")
    assert set(optimizers) == {k for k in params if k != "frozen"}
    for name, opt in optimizers.items():
        assert len(opt.param_groups) == 1
        assert opt.param_groups[0]["params"][0] is params[name]
        assert len(opt.param_groups[0]["params"]) == 1
        assert len(opt.state) == 1 and params[name] in opt.state
        for key, value in opt.state[params[name]].items():
            if value.dim() >= 1:
                assert value.shape == params[name].shape, (name, key)
            assert torch.isfinite(value).all(), (name, key)
    return n


OPS = st.sampled_from(["clone", "split", "prune", "reset", "adam"])


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 12),
    sequence=st.lists(st.tuples(OPS, st.integers(0, 2**31 - 1)), min_size=1, max_size=8),
)
def test_any_sequence_keeps_rows_aligned_and_finite(factories, n, sequence):
    params = factories["params"](n, seed=n)
    optimizers = factories["optimizers"](params)
    gen = torch.Generator().manual_seed(7)
    for op, seed in sequence:
        count = params["means"].shape[0]
        mask = torch.rand(count, generator=torch.Generator().manual_seed(seed)) < 0.5
        before, state_before = _snapshot(params, optimizers)
        if op == "clone":
            added = ops.clone(params, optimizers, mask)
            assert added == int(mask.sum())
            assert params["means"].shape[0] == count + added
            for k, v in params.items():  # old rows untouched, new rows exact copies
                assert torch.equal(v[:count].detach(), before[k])
                assert torch.equal(v[count:].detach(), before[k][mask])
            for k, opt in optimizers.items():
                for s, t in opt.state[params[k]].items():
                    if t.dim() >= 1:
                        assert torch.equal(t[:count], state_before[k][s])
                        assert not t[count:].any()
        elif op == "split":
            done = ops.split(params, optimizers, mask, n_split=2, generator=gen)
            assert done == int(mask.sum())
            assert params["means"].shape[0] == count + done
        elif op == "prune":
            removed = ops.prune(params, optimizers, mask)
            assert removed == int(mask.sum())
            for k, v in params.items():  # exactly the masked rows are gone, order kept
                assert torch.equal(v.detach(), before[k][~mask])
            for k, opt in optimizers.items():
                for s, t in opt.state[params[k]].items():
                    if t.dim() >= 1:
                        assert torch.equal(t, state_before[k][s][~mask])
        elif op == "reset":
            ops.reset_opacity(params, optimizers, 0.01)
        else:  # an optimizer step on the current rows must work after any operation
            for k, opt in optimizers.items():
                params[k].grad = torch.randn(params[k].shape, generator=gen)
                opt.step()
                opt.zero_grad(set_to_none=True)
        _check_aligned(params, optimizers)


def test_split_children_follow_the_parent_gaussian(factories):
    """Children's centres are samples of N(mean, R S^2 R^T); scales shrink by 1/(0.8 n); other tensors copied."""
    params = factories["params"](3, seed=1)
    with torch.no_grad():
        params["log_scales"][1] = torch.log(torch.tensor([0.3, 0.1, 0.02]))
        params["quats"][1] = torch.tensor([0.8, 0.2, -0.5, 0.1])
    parent = {k: v[1].detach().clone() for k, v in params.items()}
    n_split, copies = 4, 500
    # Split many copies of the same parent in one call to collect samples of the children's centres.
    p = {name: nn.Parameter(v.detach()[1:2].repeat(copies, *([1] * (v.dim() - 1))), requires_grad=v.requires_grad)
         for name, v in params.items()}
    mask = torch.ones(copies, dtype=torch.bool)
    assert ops.split(p, {}, mask, n_split=n_split, generator=torch.Generator().manual_seed(0)) == copies
    assert p["means"].shape[0] == n_split * copies
    expected_log = parent["log_scales"] - math.log(0.8 * n_split)
    assert torch.allclose(p["log_scales"], expected_log.expand(n_split * copies, 3), atol=1e-6)
    for name in ("quats", "opacity_logits", "sh", "frozen"):
        assert torch.equal(p[name].detach(), parent[name].expand_as(p[name]))
    samples = [p["means"].detach().double()]
    x = torch.cat(samples).numpy()
    # Reference covariance in float64 from the quaternion (independent formula via numpy).
    w, qx, qy, qz = (parent["quats"] / parent["quats"].norm()).double().tolist()
    R = np.array([
        [1 - 2 * (qy**2 + qz**2), 2 * (qx * qy - w * qz), 2 * (qx * qz + w * qy)],
        [2 * (qx * qy + w * qz), 1 - 2 * (qx**2 + qz**2), 2 * (qy * qz - w * qx)],
        [2 * (qx * qz - w * qy), 2 * (qy * qz + w * qx), 1 - 2 * (qx**2 + qy**2)],
    ])
    S = np.diag(np.exp(parent["log_scales"].double().numpy()))
    cov_ref = R @ S @ S @ R.T
    assert np.allclose(x.mean(0), parent["means"].double().numpy(), atol=0.03)
    assert np.allclose(np.cov(x.T), cov_ref, atol=0.012)


def test_carried_gradients_and_new_rows_zero(factories):
    params = factories["params"](4)
    optimizers = factories["optimizers"](params)
    params["means"].grad = torch.arange(12.0).view(4, 3)
    ops.clone(params, optimizers, torch.tensor([True, False, False, True]))
    assert torch.equal(params["means"].grad[:4], torch.arange(12.0).view(4, 3))
    assert not params["means"].grad[4:].any()
    assert params["frozen"].grad is None and not params["frozen"].requires_grad


def test_reset_opacity_clamps_and_zeroes_state(factories):
    params = factories["params"](20)
    optimizers = factories["optimizers"](params)
    before = params["opacity_logits"].detach().clone()
    means_state = optimizers["means"].state[params["means"]]["exp_avg"].clone()
    ops.reset_opacity(params, optimizers, 0.01)
    expected = torch.minimum(before, torch.tensor(math.log(0.01 / 0.99)))
    assert torch.allclose(params["opacity_logits"].detach(), expected)
    assert torch.allclose(torch.sigmoid(params["opacity_logits"]).max(), torch.tensor(0.01), atol=1e-6) or bool(
        (torch.sigmoid(before) < 0.01).all()
    )
    state = optimizers["opacity_logits"].state[params["opacity_logits"]]
    assert not state["exp_avg"].any() and not state["exp_avg_sq"].any()
    assert torch.equal(optimizers["means"].state[params["means"]]["exp_avg"], means_state)  # others untouched


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 30),
    n_split=st.integers(2, 4),
    budget=st.integers(-3, 40),
    seed=st.integers(0, 10_000),
)
def test_limit_growth_respects_budget_and_prefers_high_scores(n, n_split, budget, seed):
    g = torch.Generator().manual_seed(seed)
    score = torch.rand(n, generator=g)
    kind = torch.randint(0, 3, (n,), generator=g)
    clone_mask, split_mask = kind == 1, kind == 2
    c, s = ops.limit_growth(score, clone_mask, split_mask, n_split, budget)
    added = int(c.sum()) + (n_split - 1) * int(s.sum())
    assert added <= max(budget, 0)
    assert not (c & ~clone_mask).any() and not (s & ~split_mask).any()
    # Reference: walk the candidates by decreasing score, stop at the first one that does not fit.
    order = sorted(range(n), key=lambda i: -float(score[i]))
    used, chosen = 0, set()
    for i in order:
        cost = 1 if clone_mask[i] else (n_split - 1 if split_mask[i] else 0)
        if cost == 0:
            continue
        if used + cost > max(budget, 0):
            break
        used += cost
        chosen.add(i)
    total_cost = int(clone_mask.sum()) + (n_split - 1) * int(split_mask.sum())
    if total_cost <= budget:
        chosen = {i for i in range(n) if clone_mask[i] or split_mask[i]}
    assert {i for i in range(n) if c[i] or s[i]} == chosen


def test_limit_growth_none_is_unlimited():
    m = torch.tensor([True, False])
    c, s = ops.limit_growth(torch.rand(2), m, ~m, 2, None)
    assert c is m and torch.equal(s, ~m)


def test_errors_are_clear(factories):
    params = factories["params"](5)
    optimizers = factories["optimizers"](params)
    with pytest.raises(TypeError, match="bool"):
        ops.prune(params, optimizers, torch.zeros(5))
    with pytest.raises(ValueError, match=r"shape \[5\]"):
        ops.prune(params, optimizers, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="n_split"):
        ops.split(params, optimizers, torch.zeros(5, dtype=torch.bool), n_split=1)
    with pytest.raises(ValueError, match="opacity reset value"):
        ops.reset_opacity(params, optimizers, 1.5)
    bad = dict(params, sh=nn.Parameter(torch.zeros(4, 4, 3)))
    with pytest.raises(ValueError, match=r"params\['sh'\].*N = 5"):
        ops.prune(bad, {}, torch.zeros(5, dtype=torch.bool))
    missing = {k: v for k, v in params.items() if k != "quats"}
    with pytest.raises(ValueError, match="missing required keys"):
        ops.clone(missing, {}, torch.zeros(5, dtype=torch.bool))
    two_groups = dict(optimizers, means=torch.optim.Adam([{"params": [params["means"]]}, {"params": [params["sh"]]}]))
    with pytest.raises(ValueError, match=r"optimizers\['means'\].*exactly one param group"):
        ops.clone(params, two_groups, torch.zeros(5, dtype=torch.bool))
    stale = dict(optimizers, sh=torch.optim.Adam([nn.Parameter(torch.zeros(5, 4, 3))]))
    with pytest.raises(ValueError, match=r"optimizers\['sh'\]: its parameter is not params"):
        ops.clone(params, stale, torch.zeros(5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"optimizers\['nope'\]"):
        ops.clone(params, dict(optimizers, nope=optimizers["sh"]), torch.zeros(5, dtype=torch.bool))
