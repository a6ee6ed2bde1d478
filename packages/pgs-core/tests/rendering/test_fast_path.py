"""The inference fast path (renders without gradients) against the training path.

The fast path skips what only training needs (pixel counts, the records kept for the backward
pass); its images must equal the training path's, and the training path's gradients must not
depend on whether counts were asked for.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgs.core.gaussians import GaussianParams
from pgs.core.interfaces import RasterizerConfig
from pgs.core.rendering.torch_backend import TorchRasterizer

from .conftest import make_scene

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="needs numba")
BACKENDS = ["torch", pytest.param("cpu", marks=needs_numba)]


def _rasterizer(backend: str, tile_size: int = 16):
    config = RasterizerConfig(tile_size=tile_size)
    if backend == "cpu":
        from pgs.core.rendering.cpu_backend import CpuRasterizer

        return CpuRasterizer(config)
    return TorchRasterizer(config)


def _leaves(g: GaussianParams) -> GaussianParams:
    return GaussianParams(**{k: v.detach().clone().requires_grad_(True) for k, v in g.as_dict().items()})


def _grads(rasterizer, g: GaussianParams, cams, with_pixel_counts: bool | None, seed: int = 0):
    leaves = _leaves(g)
    out = rasterizer.render(leaves, cams, with_pixel_counts=with_pixel_counts)
    gen = torch.Generator().manual_seed(seed)
    loss = (out.color * torch.randn(out.color.shape, generator=gen)).sum() + (
        out.alpha * torch.randn(out.alpha.shape, generator=gen)
    ).sum()
    loss.backward()
    grads = {k: v.grad for k, v in leaves.as_dict().items()}
    grads["means2d"] = out.means2d.grad
    return out, grads


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 120),
    cameras=st.integers(1, 2),
    size=st.sampled_from([(40, 32), (64, 48), (17, 9), (70, 20)]),
    tile_size=st.sampled_from([8, 12, 16, 20]),
    boost=st.floats(0.0, 4.0),
)
def test_fast_path_images_equal_the_training_path(backend, seed, n, cameras, size, tile_size, boost):
    g, cams = make_scene(seed, n, cameras, size[0], size[1], sh_degree=1, behind=1, huge=1, tiny=2, faint=2)
    g.opacity_logits.data.add_(boost)
    rasterizer = _rasterizer(backend, tile_size)
    with torch.no_grad():
        fast = rasterizer.render(g, cams)
    train = rasterizer.render(_leaves(g), cams)
    assert fast.pixel_counts is None and train.pixel_counts is not None
    assert fast.color.grad_fn is None and train.color.grad_fn is not None
    for field in ("color", "alpha", "depth"):
        if backend == "cpu":  # the same float32 operations per pixel: bit-identical
            assert torch.equal(getattr(fast, field), getattr(train, field).detach()), field
        else:
            torch.testing.assert_close(getattr(fast, field), getattr(train, field).detach(), atol=1e-7, rtol=0)
    assert torch.equal(fast.radii, train.radii)


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_gradients_do_not_depend_on_pixel_counts(backend):
    g, cams = make_scene(11, n=300, cameras=2, width=48, height=40, sh_degree=2)
    g.opacity_logits.data.add_(2.0)
    rasterizer = _rasterizer(backend)
    with_counts, g_with = _grads(rasterizer, g, cams, True, 3)
    without, g_without = _grads(rasterizer, g, cams, False, 3)
    assert without.pixel_counts is None and int(with_counts.pixel_counts.sum()) > 0
    assert torch.equal(with_counts.color, without.color)
    for name in g_with:
        assert torch.equal(g_with[name], g_without[name]), name


@needs_numba
def test_cpu_training_gradients_match_the_torch_backend_after_the_kernel_split():
    from pgs.core.rendering.cpu_backend import CpuRasterizer

    g, cams = make_scene(12, n=400, cameras=2, width=64, height=48, sh_degree=1)
    g.opacity_logits.data.add_(3.0)
    a, ga = _grads(CpuRasterizer(), g, cams, True, 5)
    b, gb = _grads(TorchRasterizer(), g, cams, True, 5)
    assert torch.equal(a.pixel_counts, b.pixel_counts)
    for name in ga:
        scale = float(gb[name].abs().max())
        torch.testing.assert_close(ga[name], gb[name], rtol=1e-4, atol=1e-4 * max(scale, 1e-6), msg=name)


@needs_numba
def test_cpu_fast_path_skips_the_training_kernel(monkeypatch):
    from pgs.core.rendering import cpu_kernels
    from pgs.core.rendering.cpu_backend import CpuRasterizer

    g, cams = make_scene(2, n=50)
    rasterizer = CpuRasterizer()
    with torch.no_grad():
        expected = rasterizer.render(g, cams, with_pixel_counts=True)  # counts: the training kernel

    def forbidden(*args, **kwargs):
        raise AssertionError("the training kernel ran on the inference path")

    monkeypatch.setattr(cpu_kernels, "forward_tiles", forbidden)
    with torch.no_grad():
        fast = rasterizer.render(g, cams)
    assert torch.equal(fast.color, expected.color) and torch.equal(fast.alpha, expected.alpha)
    with pytest.raises(AssertionError, match="training kernel"):
        rasterizer.render(_leaves(g), cams)


@needs_numba
def test_cpu_fast_path_leaves_empty_tiles_empty():
    """Gaussians in one corner only: the tiles the fast path never visits hold the empty image."""
    from pgs.core.rendering.cpu_backend import CpuRasterizer

    g, cams = make_scene(4, n=40, width=96, height=80)
    g.means.data[:, :2] = g.means.data[:, :2] * 0.05 - 0.45  # top-left corner of the view
    with torch.no_grad():
        fast = CpuRasterizer().render(g, cams)
    train = CpuRasterizer().render(_leaves(g), cams)
    assert float(fast.alpha[0, 40:, 48:].abs().max()) == 0.0 and float(fast.alpha.max()) > 0.1
    assert torch.equal(fast.color, train.color.detach()) and torch.equal(fast.depth, train.depth.detach())


@pytest.mark.parametrize("backend", BACKENDS)
def test_counts_on_request_without_gradients(backend):
    g, cams = make_scene(6, n=60)
    rasterizer = _rasterizer(backend)
    with torch.no_grad():
        asked = rasterizer.render(g, cams, with_pixel_counts=True)
    trained = rasterizer.render(_leaves(g), cams)
    assert torch.equal(asked.pixel_counts, trained.pixel_counts)
    assert rasterizer.render(_leaves(g), cams, with_pixel_counts=False).pixel_counts is None
