"""The numba compositor (`composite_cpu.composite`) against a dense float64 compositor written here.

The reference follows the contract rules literally (per pixel, its tile's list front to back) with
plain PyTorch float64 ops, so its autograd gives independent gradients. Binning is also done here
(every Gaussian in every tile, or a random depth-sorted subset per tile), so these tests do not
depend on the shared projection/binning modules.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from hypothesis import strategies as st

from pgs.core.testing.properties import int_ranges, property_test

pytest.importorskip("numba")

from pgs.core.errors import RenderError
from pgs.core.rendering.composite_cpu import composite


def make_scene(seed: int, C: int, N: int, W: int, H: int, big: bool = False) -> SimpleNamespace:
    g = torch.Generator().manual_seed(seed)
    means2d = torch.rand(C, N, 2, generator=g) * torch.tensor([W + 8.0, H + 8.0]) - 4.0
    scale = (torch.rand(C, N, 2, generator=g) * (4.0 if big else 2.5) + 0.4) ** 2
    theta = torch.rand(C, N, generator=g) * math.pi
    cos, sin = torch.cos(theta), torch.sin(theta)
    # cov = R diag(s) R^T; conic = inverse
    sxx = cos * cos * scale[..., 0] + sin * sin * scale[..., 1]
    syy = sin * sin * scale[..., 0] + cos * cos * scale[..., 1]
    sxy = cos * sin * (scale[..., 0] - scale[..., 1])
    det = sxx * syy - sxy * sxy
    conics = torch.stack([syy / det, -sxy / det, sxx / det], -1)
    colors = torch.rand(C, N, 3, generator=g)
    opacities = torch.rand(C, N, generator=g) * 0.98 + 0.01
    opacities[..., : max(1, N // 4)] = 0.995  # some saturate the 0.99 clamp
    depths = torch.rand(C, N, generator=g) * 5.0 + 0.5
    return SimpleNamespace(means2d=means2d, conics=conics, colors=colors, opacities=opacities, depths=depths)


def make_bins(proj: SimpleNamespace, W: int, H: int, tile_size: int, seed: int | None = None) -> SimpleNamespace:
    """All Gaussians in every tile (seed None) or a random subset per tile, depth-sorted."""
    C, N = proj.opacities.shape
    tx, ty = -(-W // tile_size), -(-H // tile_size)
    g = torch.Generator().manual_seed(seed or 0)
    ids, lengths = [], []
    for c in range(C):
        order = torch.argsort(proj.depths[c], stable=True)
        for _ in range(tx * ty):
            sel = order if seed is None else order[torch.rand(N, generator=g) < 0.6]
            ids.append(sel)
            lengths.append(sel.numel())
    starts = torch.zeros(len(lengths) + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(torch.tensor(lengths), 0)
    return SimpleNamespace(
        tile_size=tile_size, tiles_x=tx, tiles_y=ty, tile_starts=starts, gaussian_ids=torch.cat(ids).long()
    )


def dense_composite(proj, bins, W: int, H: int):
    """Contract rules in float64, pixel by pixel over each tile's list (differentiable)."""
    C, N = proj.opacities.shape
    ts = bins.tile_size
    color = torch.zeros(C, H, W, 3, dtype=torch.float64)
    alpha = torch.zeros(C, H, W, 1, dtype=torch.float64)
    depth = torch.zeros(C, H, W, 1, dtype=torch.float64)
    counts = torch.zeros(C, N, dtype=torch.int64)
    color_rows, alpha_rows, depth_rows = [], [], []
    for c in range(C):
        for y in range(H):
            for x in range(W):
                t = (c * bins.tiles_y + y // ts) * bins.tiles_x + x // ts
                ids = bins.gaussian_ids[bins.tile_starts[t] : bins.tile_starts[t + 1]]
                d = proj.means2d[c, ids] - torch.tensor([x + 0.5, y + 0.5], dtype=torch.float64)
                a, b, cc = proj.conics[c, ids].unbind(-1)
                sigma = 0.5 * (a * d[:, 0] ** 2 + cc * d[:, 1] ** 2) + b * d[:, 0] * d[:, 1]
                al = torch.clamp(proj.opacities[c, ids] * torch.exp(-sigma), max=0.99)
                T = torch.ones((), dtype=torch.float64)
                col = torch.zeros(3, dtype=torch.float64)
                dep = torch.zeros((), dtype=torch.float64)
                for k in range(ids.numel()):
                    if sigma[k] < 0 or al[k] < 1.0 / 255.0:
                        continue
                    t_next = T * (1 - al[k])
                    if t_next < 1e-4:
                        break
                    col = col + proj.colors[c, ids[k]] * al[k] * T
                    dep = dep + proj.depths[c, ids[k]] * al[k] * T
                    counts[c, ids[k]] += 1
                    T = t_next
                color_rows.append(col)
                alpha_rows.append(1 - T)
                depth_rows.append(dep)
    color = torch.stack(color_rows).view(C, H, W, 3)
    alpha = torch.stack(alpha_rows).view(C, H, W, 1)
    depth = torch.stack(depth_rows).view(C, H, W, 1)
    return color, alpha, depth, counts


FIELDS = ("means2d", "conics", "colors", "opacities", "depths")


def leaf_copy(proj, dtype):
    return SimpleNamespace(**{f: getattr(proj, f).detach().to(dtype).requires_grad_(True) for f in FIELDS})


def check_against_dense(proj, bins, W, H, seed):
    p32 = leaf_copy(proj, torch.float32)
    p64 = leaf_copy(proj, torch.float64)
    out = composite(p32, bins, W, H)
    ref = dense_composite(p64, bins, W, H)
    for got, want, name in zip(out[:3], ref[:3], ("color", "alpha", "depth"), strict=True):
        scale = 1.0 if name != "depth" else float(proj.depths.max())
        torch.testing.assert_close(got.double(), want, atol=1e-5 * scale, rtol=1e-5, msg=name)
    assert out[3].dtype == torch.int32
    assert torch.equal(out[3].long(), ref[3])
    # Gradients of a random linear loss on every output.
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o.shape, generator=g, dtype=torch.float64) for o in ref[:3]]
    loss32 = sum((o.double() * w).sum() for o, w in zip(out[:3], weights, strict=True))
    loss64 = sum((o * w).sum() for o, w in zip(ref[:3], weights, strict=True))
    loss64 = loss64 + sum(0.0 * getattr(p64, f).sum() for f in FIELDS)  # a graph even if nothing composites
    loss32.backward()
    loss64.backward()
    for f in FIELDS:
        got, want = getattr(p32, f).grad.double(), getattr(p64, f).grad
        tol = 1e-4 * max(1.0, float(want.abs().max()))
        torch.testing.assert_close(got, want, atol=tol, rtol=1e-4, msg=f)


@pytest.mark.parametrize("subset", [False, True])
def test_matches_dense_reference_fixed(subset: bool) -> None:
    W, H, C, N = 13, 9, 2, 30
    proj = make_scene(3, C, N, W, H, big=True)
    bins = make_bins(proj, W, H, 8, seed=5 if subset else None)
    check_against_dense(proj, bins, W, H, seed=7)


@property_test(
    25,
    **int_ranges(seed=(0, 10_000), C=(1, 2), N=(1, 25), W=(1, 27), H=(1, 15)),
    tile_size=st.sampled_from([2, 4, 12, 16]),  # 12: a tile row ends inside an 8-pixel chunk
    subset=st.booleans(),
    big=st.booleans(),
)
def test_matches_dense_reference_property(seed, C, N, W, H, tile_size, subset, big) -> None:
    proj = make_scene(seed, C, N, W, H, big=big)
    bins = make_bins(proj, W, H, tile_size, seed=seed if subset else None)
    check_against_dense(proj, bins, W, H, seed=seed)


def test_vectorised_exp_is_within_one_ulp() -> None:
    """The kernels' polynomial exp(-sigma) against float64 exp, in float32 ulps, over the range alpha uses."""
    import numba
    import numpy as np

    from pgs.core.rendering import cpu_kernels

    @numba.njit
    def evaluate(sigmas: np.ndarray, out: np.ndarray) -> None:
        for i in range(sigmas.shape[0]):
            out[i] = cpu_kernels._exp_neg(sigmas[i])

    sigmas = np.concatenate([np.linspace(0.0, 12.0, 200_001), [0.0, 1e-8, 5.54, 86.0]]).astype(np.float32)
    got = np.empty_like(sigmas)
    evaluate(sigmas, got)
    want = np.exp(-sigmas.astype(np.float64))
    ulps = np.abs(got - want) / np.spacing(want.astype(np.float32)).astype(np.float64)
    assert ulps.max() <= 1.0, f"exp off by {ulps.max():.2f} ulp at sigma={sigmas[ulps.argmax()]}"


def test_saturated_pixels_stop_and_count() -> None:
    """Ten Gaussians centred on one pixel with alpha 0.95: T = 0.05, 0.0025, 1.25e-4, then 6.25e-6 < 1e-4."""
    C, N, W, H = 1, 10, 1, 1
    proj = SimpleNamespace(
        means2d=torch.full((C, N, 2), 0.5),
        conics=torch.tensor([1.0, 0.0, 1.0]).repeat(C, N, 1),
        colors=torch.rand(C, N, 3),
        opacities=torch.full((C, N), 0.95),
        depths=torch.arange(1.0, N + 1).view(C, N),
    )
    bins = make_bins(proj, W, H, 16)
    _, alpha, depth, counts = composite(proj, bins, W, H)
    expected_counts = torch.zeros(C, N, dtype=torch.int32)
    expected_counts[0, :3] = 1
    assert torch.equal(counts, expected_counts)
    torch.testing.assert_close(alpha[0, 0, 0, 0], torch.tensor(1.0 - 0.05**3), atol=1e-6, rtol=0)
    weights = 0.95 * 0.05 ** torch.arange(3.0)
    torch.testing.assert_close(depth[0, 0, 0, 0], (weights * proj.depths[0, :3]).sum(), atol=1e-5, rtol=1e-6)


def test_no_gaussians_gives_empty_image_and_zero_gradients() -> None:
    proj = leaf_copy(make_scene(0, 2, 0, 9, 5), torch.float32)
    bins = make_bins(proj, 9, 5, 4)
    color, alpha, depth, counts = composite(proj, bins, 9, 5)
    assert color.shape == (2, 5, 9, 3) and alpha.shape == depth.shape == (2, 5, 9, 1) and counts.shape == (2, 0)
    assert not color.any() and not alpha.any() and not depth.any()
    (color.sum() + alpha.sum()).backward()
    assert proj.means2d.grad.shape == (2, 0, 2)


def test_rejects_non_cpu_and_mismatched_bins() -> None:
    proj = make_scene(0, 1, 4, 8, 8)
    bins = make_bins(proj, 8, 8, 4)
    with pytest.raises(RenderError, match="needs"):
        composite(proj, bins, 16, 8)
    with pytest.raises(RenderError, match=r"outside 1\.\.64"):
        composite(proj, make_bins(proj, 8, 8, 65), 8, 8)
    if torch.cuda.is_available():  # pragma: no cover - no GPU here
        proj.means2d = proj.means2d.cuda()
        with pytest.raises(RenderError, match="CPU tensors only"):
            composite(proj, bins, 8, 8)
