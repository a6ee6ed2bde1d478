"""Properties of the torch backend: ranges, invariances, culling, pixel-count bounds, tiles."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.gaussians import GaussianParams
from pgs.core.interfaces import RasterizerConfig
from pgs.core.rendering.torch_backend import TorchRasterizer

from .conftest import make_scene

R = TorchRasterizer()


def _cat(g: GaussianParams, extra: dict[str, torch.Tensor]) -> GaussianParams:
    return GaussianParams(**{k: torch.cat([v, extra[k]]) for k, v in g.as_dict().items()})


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 50))
def test_alpha_range_permutation_and_zero_opacity(seed, n):
    g, cams = make_scene(seed, n=n, cameras=2, sh_degree=1, behind=1, huge=1)
    out = R.render(g, cams, with_pixel_counts=True)
    assert bool(((out.alpha >= 0) & (out.alpha <= 1)).all())
    assert bool((out.color >= 0).all())
    # Reordering Gaussians (distinct depths almost surely) does not change the image.
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    out_p = R.render(g.subset(perm), cams, with_pixel_counts=True)
    torch.testing.assert_close(out_p.color, out.color, atol=1e-6, rtol=0)
    torch.testing.assert_close(out_p.alpha, out.alpha, atol=1e-6, rtol=0)
    assert torch.equal(out_p.pixel_counts, out.pixel_counts[:, perm])
    # Adding a Gaussian with opacity 0 changes nothing.
    zero = {k: v[:1].clone() for k, v in g.as_dict().items()}
    zero["opacity_logits"] = torch.tensor([-1e4])
    zero["means"] = torch.tensor([[0.0, 0.0, 2.0]])
    out_z = R.render(_cat(g, zero), cams, with_pixel_counts=True)
    torch.testing.assert_close(out_z.color, out.color, atol=1e-6, rtol=0)  # einsum blocking may change last bits
    torch.testing.assert_close(out_z.alpha, out.alpha, atol=1e-6, rtol=0)
    assert int(out_z.radii[:, n].abs().sum()) == 0
    assert torch.equal(out_z.pixel_counts[:, :n], out.pixel_counts) and int(out_z.pixel_counts[:, n].sum()) == 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_behind_camera_never_contributes(seed):
    g, cams = make_scene(seed, n=30, cameras=1)
    big = {k: v[:1].clone() for k, v in g.as_dict().items()}
    big["means"] = torch.tensor([[0.0, 0.0, -0.5]])
    big["log_scales"] = torch.zeros(1, 3)  # huge, would cover the image if it were in front
    big["opacity_logits"] = torch.tensor([5.0])
    out = R.render(g, cams, with_pixel_counts=True)
    out_b = R.render(_cat(g, big), cams, with_pixel_counts=True)
    torch.testing.assert_close(out_b.color, out.color, atol=1e-6, rtol=0)
    assert int(out_b.pixel_counts[0, -1]) == 0 and int(out_b.radii[0, -1]) == 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_pixel_count_within_radius_and_tile_independent(seed):
    g, cams = make_scene(seed, n=40, cameras=1, width=48, height=40, huge=1, tiny=2, faint=3)
    out16 = R.render(g, cams, with_pixel_counts=True)
    out8 = TorchRasterizer(RasterizerConfig(tile_size=8)).render(g, cams, with_pixel_counts=True)
    torch.testing.assert_close(out8.color, out16.color, atol=1e-6, rtol=0)
    assert torch.equal(out8.pixel_counts, out16.pixel_counts)
    m, r = out16.means2d.detach()[0], out16.radii[0].double()
    ys, xs = torch.meshgrid(torch.arange(40) + 0.5, torch.arange(48) + 0.5, indexing="ij")
    inside = ((xs.flatten()[None] - m[:, :1].double()).abs() <= r[:, None]) & (
        (ys.flatten()[None] - m[:, 1:].double()).abs() <= r[:, None]
    )
    assert bool((out16.pixel_counts[0].long() <= inside.sum(1)).all())
    assert bool((out16.pixel_counts[out16.radii == 0] == 0).all())


def test_eq4_z_min_masks_counts_only():
    g, cams = make_scene(1, n=30)
    g.means.data[:5, 2] = 0.15  # between near (0.01) and z_min (0.2): rendered, not counted
    g.means.data[:5, :2] = 0.0
    out = TorchRasterizer(RasterizerConfig(z_min=0.2)).render(g, cams, with_pixel_counts=True)
    loose = TorchRasterizer(RasterizerConfig(z_min=0.05)).render(g, cams, with_pixel_counts=True)
    assert torch.equal(out.color, loose.color)
    assert int(out.pixel_counts[0, :5].sum()) == 0 < int(loose.pixel_counts[0, :5].sum())
    assert torch.equal(out.pixel_counts[0, 5:], loose.pixel_counts[0, 5:])


def test_empty_scene_and_several_cameras_agree_with_single():
    g, cams = make_scene(2, n=30, cameras=3)
    out = R.render(g, cams, with_pixel_counts=True)
    for c in range(3):
        single = R.render(g, cams[c : c + 1], with_pixel_counts=True)
        torch.testing.assert_close(single.color[0], out.color[c], atol=1e-6, rtol=0)
        assert torch.equal(single.pixel_counts[0], out.pixel_counts[c])
    empty = R.render(g.subset(torch.zeros(30, dtype=torch.bool)), cams)
    assert empty.color.shape == (3, cams.height, cams.width, 3) and float(empty.alpha.abs().max()) == 0.0
