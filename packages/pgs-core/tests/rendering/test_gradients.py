"""Gradients: float64 gradcheck of the compositor and of the whole pipeline, means2d.grad."""

from __future__ import annotations

import pytest
import torch

from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.binning import bin_tiles
from pgs.core.rendering.composite_torch import composite
from pgs.core.rendering.projection import ALPHA_MIN, T_MIN, project
from pgs.core.rendering.torch_backend import TorchRasterizer
from pgs.core.testing.dense_reference import dense_composite

from .conftest import make_scene


def _margin_ok(proj, width, height) -> bool:
    """No (pixel, Gaussian) alpha within 2% of 1/255 and no transmittance near 1e-4."""
    with torch.no_grad():
        ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
        dx = proj.means2d[0, :, None, 0] - xs.flatten().double()
        dy = proj.means2d[0, :, None, 1] - ys.flatten().double()
        a, b, c = proj.conics[0].unbind(-1)
        sigma = 0.5 * (a[:, None] * dx * dx + c[:, None] * dy * dy) + b[:, None] * dx * dy
        alpha = proj.opacities[0, :, None] * torch.exp(-sigma)
        near_cut = ((alpha / ALPHA_MIN - 1).abs() < 0.02) & (proj.radii[0, :, None] > 0)
        _, al, _, _ = dense_composite(proj, width, height)
        return not bool(near_cut.any()) and bool(((1 - al) > 3 * T_MIN).all())


def _small(seed):
    """The first scene from `seed` on whose pixels stay clear of the 1/255 and 1e-4 cut-offs."""
    for s in range(seed, seed + 200):
        g, cams = make_scene(s, n=5, cameras=2, width=12, height=10, sh_degree=1, dtype=torch.float64)
        g.log_scales.data.add_(1.2)
        if _margin_ok(project(g, cams), cams.width, cams.height):
            return g, cams
    raise AssertionError("no scene clear of the cut-offs found")


@pytest.mark.parametrize("seed", [0, 1000])
def test_gradcheck_every_gaussian_parameter(seed):
    g, cams = _small(seed)
    names = list(g.as_dict())
    leaves = [t.detach().clone().requires_grad_() for t in g.as_dict().values()]
    rast = TorchRasterizer()

    def fn(*tensors):
        out = rast.render(GaussianParams(**dict(zip(names, tensors, strict=True))), cams)
        return out.color, out.alpha, out.depth

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_gradcheck_compositor_inputs():
    g, cams = _small(3)
    proj = project(g, cams)
    bins = bin_tiles(proj, cams.width, cams.height, 8)
    inputs = [proj.means2d, proj.conics, proj.colors, proj.opacities, proj.depths]
    leaves = [t.detach().clone().requires_grad_() for t in inputs]

    def fn(m2, con, col, opa, dep):
        p = type(proj)(m2, con, dep, proj.radii, col, opa)
        c, a, d, _ = composite(p, bins, cams.width, cams.height)
        return c, a, d

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_means2d_grad_is_retained_and_correct():
    g, cams = make_scene(4, n=20, cameras=2)
    leaves = {k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()}
    def loss_of(out):
        return (out.color * torch.linspace(0, 1, 3)).sum() + out.alpha.square().sum()

    with torch.no_grad():
        proj = project(g, cams)
    m2 = proj.means2d.clone().requires_grad_()  # a leaf: the gradient through the compositor alone
    p = type(proj)(m2, proj.conics, proj.depths, proj.radii, proj.colors, proj.opacities)
    c, a, _, _ = composite(p, bin_tiles(proj, cams.width, cams.height, 16), cams.width, cams.height)
    expected = torch.autograd.grad((c * torch.linspace(0, 1, 3)).sum() + a.square().sum(), m2)[0]
    out = TorchRasterizer().render(GaussianParams(**leaves), cams)
    loss_of(out).backward()
    assert out.means2d.grad is not None
    torch.testing.assert_close(out.means2d.grad, expected)
    assert bool((out.means2d.grad[out.radii == 0] == 0).all())
    for name, leaf in leaves.items():
        assert leaf.grad is not None and bool(torch.isfinite(leaf.grad).all()), name


# 1: nothing fits; 60k: full in round 0; 1.5M and 3M: full in the middle of rounds 1 and 3; 1 GiB: all kept
@pytest.mark.parametrize("cache_bytes", [0, 1, 60_000, 1_500_000, 3_000_000, 1 << 30])
def test_backward_equal_with_any_forward_cache(monkeypatch, cache_bytes):
    """Cached, partly cached (resumed mid-round) and recomputed backward passes give identical gradients."""
    import pgs.core.rendering.composite_torch as ct

    g, cams = make_scene(7, n=300, cameras=2, width=40, height=36, sh_degree=1)
    proj = project(g, cams)
    bins = bin_tiles(proj, cams.width, cams.height, 8)
    inputs = [proj.means2d, proj.conics, proj.colors, proj.opacities, proj.depths]
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(cams.num, cams.height, cams.width, d, generator=gen) for d in (3, 1, 1)]

    def grads(budget):
        # small chunks: several chunks per round, so the cache can fill in the middle of a round
        monkeypatch.setattr(ct, "CHUNK_ELEMENTS", 2048)
        monkeypatch.setattr(ct, "CACHE_BYTES", budget)
        p = type(proj)(leaves[0], leaves[1], leaves[4], proj.radii, leaves[2], leaves[3])
        out = composite(p, bins, cams.width, cams.height)
        loss = sum((o * w).sum() for o, w in zip(out[:3], weights, strict=True))
        return torch.autograd.grad(loss, leaves)

    reference = grads(0)
    assert any(bool(r.abs().sum() > 0) for r in reference)
    for got, want in zip(grads(cache_bytes), reference, strict=True):
        assert torch.equal(got, want)


def test_backward_twice_through_retained_graph():
    """The forward cache is released after the first backward; a second one recomputes the same gradients."""
    g, cams = make_scene(8, n=80, cameras=1, width=24, height=20, sh_degree=0)
    leaves = GaussianParams(**{k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()})
    out = TorchRasterizer().render(leaves, cams)
    loss = out.color.square().sum() + out.alpha.sum()
    first = torch.autograd.grad(loss, [leaves.means, leaves.opacity_logits], retain_graph=True)
    second = torch.autograd.grad(loss, [leaves.means, leaves.opacity_logits])
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
