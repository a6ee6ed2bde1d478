"""The compiled projection (`projection_kernels.project_cpu`) against `projection.project`.

float64 inputs: both compute in float64, so every field and every gradient agrees to 1e-9 of its
scale and the radii and culling agree exactly. float32 inputs: PyTorch rounds each intermediate
to float32, so fields agree to float32 rounding and a radius within rounding of an integer may
differ by one. The hand-written backward is also checked against finite differences
(`torch.autograd.gradcheck`).
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgs.core.errors import RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.projection import project

from .conftest import make_scene

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="needs numba")

FIELDS = ("means2d", "conics", "depths", "colors", "opacities")


def _compare(g, cams, degree, rtol, radius_slack):
    from pgs.core.rendering.projection_kernels import project_cpu

    with torch.no_grad():
        ref = project(g, cams, degree)
        fast = project_cpu(g, cams, degree)
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
    from pgs.core.rendering.projection_kernels import project_cpu

    g, cams = make_scene(3, 50, 1, sh_degree=3, dtype=torch.float64)
    _compare(g, cams, 1, rtol=1e-9, radius_slack=0)  # only the first 4 coefficients are read
    with pytest.raises(RenderError, match="sh_degree 4"):
        project_cpu(g, cams, 4)


def _outputs(p):
    return (p.means2d, p.conics, p.depths, p.colors, p.opacities)


def _gradients(fn, g, cams, degree, seed):
    leaves = GaussianParams(**{k: v.detach().clone().requires_grad_(True) for k, v in g.as_dict().items()})
    out = _outputs(fn(leaves, cams, degree))
    gen = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in out)
    loss.backward()
    return {k: v.grad for k, v in leaves.as_dict().items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 120),
    cameras=st.integers(1, 3),
    degree=st.integers(0, 3),
)
def test_float64_gradients_equal_pytorch_autograd(seed, n, cameras, degree):
    from pgs.core.rendering.projection_kernels import project_cpu

    g, cams = make_scene(
        seed, n, cameras, 48, 40, sh_degree=degree, behind=2, offscreen=1, huge=1, tiny=1, faint=1, dtype=torch.float64
    )
    ref = _gradients(project, g, cams, degree, seed)
    ours = _gradients(project_cpu, g, cams, degree, seed)
    for name, expected in ref.items():
        scale = float(expected.abs().max()) + 1e-30
        err = float((ours[name] - expected).abs().max()) / scale
        assert err <= 1e-9, f"{name}: relative error {err:.3g}"


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_backward_matches_finite_differences(degree):
    from pgs.core.rendering.projection_kernels import project_cpu

    g, cams = make_scene(7, 6, 2, 48, 40, sh_degree=degree, dtype=torch.float64)
    inputs = tuple(v.detach().clone().requires_grad_(True) for v in g.as_dict().values())

    def fn(*tensors):
        return _outputs(project_cpu(GaussianParams(*tensors), cams, degree))

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_cpu_backend_uses_the_compiled_projection(monkeypatch):
    from pgs.core.rendering import cpu_backend
    from pgs.core.rendering.cpu_backend import CpuRasterizer

    calls = []
    real = cpu_backend.project_cpu

    def spy(*args, **kwargs):
        calls.append(torch.is_grad_enabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(cpu_backend, "project_cpu", spy)
    g, cams = make_scene(5, 30)
    rasterizer = CpuRasterizer()
    with torch.no_grad():
        rasterizer.render(g, cams)
    leaf = g.means.clone().requires_grad_(True)
    out = rasterizer.render(GaussianParams(leaf, g.quats, g.log_scales, g.opacity_logits, g.sh), cams)
    out.color.sum().backward()
    assert calls == [False, True] and leaf.grad is not None and float(leaf.grad.abs().sum()) > 0
