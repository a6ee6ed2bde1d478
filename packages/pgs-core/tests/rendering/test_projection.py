"""Projection and SH against gsplat's pure-PyTorch reference functions (run on CPU)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.rendering.projection import project
from pgs.core.rendering.sh import eval_sh, sh_to_color

from .conftest import make_scene

torch_impl = pytest.importorskip("gsplat.cuda._torch_impl")


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_matches_gsplat(degree):
    gen = torch.Generator().manual_seed(degree)
    coeffs = torch.randn(50, 16, 3, generator=gen, dtype=torch.float64)
    dirs = torch.randn(50, 3, generator=gen, dtype=torch.float64) * 3.0  # not normalised
    ours = eval_sh(degree, coeffs, dirs)
    ref = torch_impl._spherical_harmonics(degree, dirs, coeffs[:, : (degree + 1) ** 2])
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=1e-10)
    assert bool((sh_to_color(degree, coeffs, dirs) >= 0).all())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), behind=st.integers(0, 4), offscreen=st.integers(0, 4), huge=st.integers(0, 2))
def test_projection_matches_gsplat(seed, behind, offscreen, huge):
    g, cams = make_scene(seed, n=60, cameras=2, sh_degree=0, behind=behind, offscreen=offscreen, huge=huge,
                         dtype=torch.float64)
    proj = project(g, cams, None, 0.3)
    covars, _ = torch_impl._quat_scale_to_covar_preci(g.quats, g.scales(), compute_preci=False)
    radii_ref, means2d, depths, conics, _ = torch_impl._fully_fused_projection(
        g.means, covars, cams.viewmats, cams.Ks, cams.width, cams.height, eps2d=0.3,
        near_plane=cams.near, far_plane=cams.far,
    )
    torch.testing.assert_close(proj.depths, depths, atol=1e-12, rtol=1e-12)
    in_range = (depths > cams.near) & (depths < cams.far)
    torch.testing.assert_close(proj.means2d[in_range], means2d[in_range], atol=1e-9, rtol=1e-12)
    torch.testing.assert_close(proj.conics[in_range], conics[in_range], atol=1e-9, rtol=1e-9)
    # Radii: ours is the alpha >= 1/255 extent sqrt(2 ln(255 o)) * sqrt(lambda_max) of the same
    # low-passed covariance (gsplat's torch impl uses 3.33 * sqrt(cov_ii) per axis).
    a, b, c = conics.unbind(-1)
    det = a * c - b * b
    cov = torch.stack([c / det, -b / det, a / det], -1)
    lam = 0.5 * (cov[..., 0] + cov[..., 2]) + torch.sqrt(0.25 * (cov[..., 0] - cov[..., 2]) ** 2 + cov[..., 1] ** 2)
    o = proj.opacities
    r = torch.ceil(torch.sqrt(2 * torch.log(torch.clamp_min(255 * o, 1)) * lam))
    inside = (means2d[..., 0] + r > 0) & (means2d[..., 0] - r < cams.width)
    inside &= (means2d[..., 1] + r > 0) & (means2d[..., 1] - r < cams.height)
    expected = torch.where(in_range & inside & (r > 0), r, torch.zeros_like(r)).int()
    assert torch.equal(proj.radii, expected)
    # both cull the same depths; our square contains gsplat's per-axis box scaled by sqrt(2 ln(255 o)) / 3.33
    assert bool((proj.radii[depths <= cams.near] == 0).all()) and bool((radii_ref[depths <= cams.near] == 0).all())
    box = torch.ceil(radii_ref.double() * torch.sqrt(2 * torch.log(torch.clamp_min(255 * o, 1)))[..., None] / 3.33)
    kept = proj.radii > 0
    assert bool((box.max(-1).values[kept] <= proj.radii[kept] + 1).all())
