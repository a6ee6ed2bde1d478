"""The compiled inference projection (`projection_kernels.project_inference`) against `projection.project`.

float64 inputs: both compute in float64, so every field agrees to 1e-9 of its scale and the radii
and culling agree exactly. float32 inputs: PyTorch rounds each intermediate to float32, so fields
agree to float32 rounding and a radius within rounding of an integer may differ by one.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgs.core.errors import RenderError
from pgs.core.rendering.projection import project

from .conftest import make_scene

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="needs numba")

FIELDS = ("means2d", "conics", "depths", "colors", "opacities")


def _compare(g, cams, degree, rtol, radius_slack):
    from pgs.core.rendering.projection_kernels import project_inference

    with torch.no_grad():
        ref = project(g, cams, degree)
        fast = project_inference(g, cams, degree)
    assert (fast.radii - ref.radii).abs().max() <= radius_slack
    both = (ref.radii > 0) & (fast.radii > 0)
    for name in FIELDS:
        a, b = getattr(ref, name), getattr(fast, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert not b.requires_grad
        mask = both if a.dim() == 2 else both[..., None].expand_as(a)
        if bool(mask.any()):
            scale = float(a[mask].abs().max()) + 1e-30
            err = float((a - b)[mask].abs().max()) / scale
            assert err <= rtol, f"{name}: relative error {err:.3g}"
    return ref, fast


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 200),
    cameras=st.integers(1, 3),
    degree=st.integers(0, 3),
    size=st.sampled_from([(40, 32), (17, 9), (96, 64)]),
)
def test_float64_equals_the_pytorch_projection(seed, n, cameras, degree, size):
    g, cams = make_scene(
        seed, n, cameras, size[0], size[1], sh_degree=degree, behind=2, offscreen=2, huge=1, tiny=2, faint=2,
        dtype=torch.float64,
    )
    ref, fast = _compare(g, cams, degree, rtol=1e-9, radius_slack=0)
    assert torch.equal(ref.radii, fast.radii)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 300), degree=st.integers(0, 3))
def test_float32_agrees_to_rounding(seed, n, degree):
    g, cams = make_scene(seed, n, 2, 64, 48, sh_degree=degree, behind=1, huge=1, tiny=2, faint=2)
    _compare(g, cams, degree, rtol=2e-5, radius_slack=1)


def test_lower_sh_degree_and_errors():
    from pgs.core.rendering.projection_kernels import project_inference

    g, cams = make_scene(3, 50, 1, sh_degree=3, dtype=torch.float64)
    _compare(g, cams, 1, rtol=1e-9, radius_slack=0)  # only the first 4 coefficients are read
    with pytest.raises(RenderError, match="sh_degree 4"):
        project_inference(g, cams, 4)


def test_cpu_backend_projects_with_the_kernel_only_without_gradients(monkeypatch):
    from pgs.core.rendering import cpu_backend
    from pgs.core.rendering.cpu_backend import CpuRasterizer

    calls = []
    real = cpu_backend.project_inference

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cpu_backend, "project_inference", spy)
    g, cams = make_scene(5, 30)
    rasterizer = CpuRasterizer()
    with torch.no_grad():
        rasterizer.render(g, cams)
    assert calls == [1]
    leaf = g.means.clone().requires_grad_(True)
    out = rasterizer.render(type(g)(leaf, g.quats, g.log_scales, g.opacity_logits, g.sh), cams)
    assert calls == [1] and out.color.grad_fn is not None  # the training path: PyTorch's projection
