"""Both CPU-capable backends (`torch`, and `cpu` when numba is installed) against the dense
float64 reference (every pixel x every Gaussian, sorted by depth, same cut-offs)."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgs.core.interfaces import RasterizerConfig
from pgs.core.testing.dense_reference import dense_render

from .conftest import make_scene

BACKENDS = [
    "torch",
    pytest.param("cpu", marks=pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="needs numba")),
]


def _rasterizer(backend: str, tile_size: int):
    if backend == "cpu":
        from pgs.core.rendering.cpu_backend import CpuRasterizer

        return CpuRasterizer(RasterizerConfig(tile_size=tile_size))
    from pgs.core.rendering.torch_backend import TorchRasterizer

    return TorchRasterizer(RasterizerConfig(tile_size=tile_size))


def _compare(backend, g, cams, tile_size=16, sh_degree=None):
    out = _rasterizer(backend, tile_size).render(g, cams, sh_degree)
    ref = dense_render(g, cams, sh_degree)
    f64 = torch.float64
    torch.testing.assert_close(out.color.to(f64), ref.color, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.alpha.to(f64), ref.alpha, atol=1e-5, rtol=0)
    depth_scale = max(1.0, float(ref.depth.abs().max()))
    torch.testing.assert_close(out.depth.to(f64), ref.depth, atol=1e-5 * depth_scale, rtol=0)
    assert torch.equal(out.pixel_counts.long(), ref.pixel_counts)
    return out, ref


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 60),
    cameras=st.integers(1, 2),
    size=st.sampled_from([(32, 24), (40, 32), (64, 48), (17, 9)]),
    tile_size=st.sampled_from([8, 16]),
    sh_degree=st.integers(0, 3),
    behind=st.integers(0, 3),
    offscreen=st.integers(0, 3),
    huge=st.integers(0, 2),
    tiny=st.integers(0, 3),
    faint=st.integers(0, 4),
)
def test_matches_dense_reference(
    backend, seed, n, cameras, size, tile_size, sh_degree, behind, offscreen, huge, tiny, faint
):
    g, cams = make_scene(seed, n, cameras, size[0], size[1], sh_degree, behind, offscreen, huge, tiny, faint)
    _compare(backend, g, cams, tile_size)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_scene_saturates_and_matches(backend):
    # Many opaque Gaussians: most pixels hit the 1e-4 transmittance stop.
    g, cams = make_scene(3, n=400, cameras=2, width=64, height=48, sh_degree=2)
    g.opacity_logits.data.add_(4.0)
    _, ref = _compare(backend, g, cams)
    assert float((1 - ref.alpha).min()) < 2e-4  # the stop rule was exercised
    assert int(ref.raw_counts.sum()) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_lower_sh_degree_and_float64_inputs_keep_their_dtype(backend):
    g, cams = make_scene(5, n=50, sh_degree=3, dtype=torch.float64)
    for t in g.as_dict().values():
        t.requires_grad_(True)
    out, _ = _compare(backend, g, cams, sh_degree=1)
    assert out.color.dtype == out.alpha.dtype == out.depth.dtype == torch.float64
    (out.color.sum() + out.depth.sum()).backward()
    assert g.means.grad is not None and g.means.grad.dtype == torch.float64
