"""`binning_fast.bin_tiles_fast` (compiled counting sort) equals the shared `binning.bin_tiles`."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import strategies as st

from pgs.core.testing.properties import int_ranges, property_test

pytest.importorskip("numba")

from pgs.core.cameras import Cameras, intrinsics
from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.binning import bin_tiles
from pgs.core.rendering.binning_fast import bin_tiles_fast
from pgs.core.rendering.projection import project


def scene(seed: int, n: int, width: int, height: int, cameras: int, spread: float):
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g) - 0.5) * 2.0 * spread
    means[:, 2] += 2.0
    # duplicate depths exercise the (depth, index) tie rule
    if n > 4:
        means[1:3, 2] = means[0, 2]
    gaussians = GaussianParams(
        means,
        torch.randn(n, 4, generator=g),
        torch.log(torch.rand(n, 3, generator=g) * 0.2 + 0.005),
        torch.randn(n, generator=g) * 2.0,
        torch.randn(n, 1, 3, generator=g),
    )
    views = []
    for i in range(cameras):
        vm = torch.eye(4)
        yaw = 0.2 * i
        vm[0, 0], vm[0, 2], vm[2, 0], vm[2, 2] = math.cos(yaw), -math.sin(yaw), math.sin(yaw), math.cos(yaw)
        views.append(vm)
    K = intrinsics(1.2 * width, 1.2 * width, width / 2.0, height / 2.0)
    return gaussians, Cameras(torch.stack(views), K.expand(cameras, 3, 3).clone(), width, height)


def assert_same(a, b) -> None:
    assert (a.tile_size, a.tiles_x, a.tiles_y) == (b.tile_size, b.tiles_x, b.tiles_y)
    assert a.tile_starts.dtype == b.tile_starts.dtype == torch.int64
    assert a.gaussian_ids.dtype == b.gaussian_ids.dtype == torch.int64
    assert torch.equal(a.tile_starts, b.tile_starts)
    assert torch.equal(a.gaussian_ids, b.gaussian_ids)


@property_test(
    40,
    **int_ranges(seed=(0, 100_000), n=(0, 300), width=(1, 90), height=(1, 70), cameras=(1, 3)),
    tile_size=st.sampled_from([1, 3, 8, 16, 64]),
    spread=st.sampled_from([0.2, 1.0, 3.0]),
)
def test_fast_binning_equals_shared_binning(seed, n, width, height, cameras, tile_size, spread) -> None:
    gaussians, cams = scene(seed, n, width, height, cameras, spread)
    proj = project(gaussians, cams, None, 0.3)
    assert_same(bin_tiles_fast(proj, width, height, tile_size), bin_tiles(proj, width, height, tile_size))


def test_fast_binning_equals_shared_binning_large() -> None:
    gaussians, cams = scene(3, 5000, 160, 120, 2, 1.0)
    proj = project(gaussians, cams, None, 0.3)
    fast = bin_tiles_fast(proj, 160, 120, 16)
    assert fast.num_intersections > 5000
    assert_same(fast, bin_tiles(proj, 160, 120, 16))


def test_fast_binning_equals_shared_binning_float64() -> None:
    """float64 depths take the two-sort path (their bits do not fit the packed camera-depth key)."""
    gaussians, cams = scene(4, 800, 64, 48, 3, 1.0)
    gaussians = GaussianParams(**{k: v.double() for k, v in gaussians.as_dict().items()})
    proj = project(gaussians, cams, None, 0.3)
    assert proj.depths.dtype == torch.float64
    assert_same(bin_tiles_fast(proj, 64, 48, 8), bin_tiles(proj, 64, 48, 8))
