"""Compiled tile binning for the `cpu` backend: the same `TileBins` as `binning.bin_tiles`, faster.

`binning.bin_tiles` expands every (camera, Gaussian) pair into its tiles and sorts the M
intersections by tile key with a stable sort (O(M log M)). Here the pairs are put in
(camera, depth, index) order once (O(P log P) over the P visible pairs, the same PyTorch sorts),
then a two-pass counting sort in numba scatters them into per-tile lists (O(M)): processing the
pairs in that order keeps each tile's list depth-sorted, so the result is identical to
`bin_tiles` (tested for equality). The per-pair tile rectangles come from the shared
`binning.axis_extents` and `binning.tile_ranges`, so the intersection rule is the shared one.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

from pgs.core.rendering.binning import TileBins, axis_extents, tile_ranges
from pgs.core.rendering.projection import Projection


@numba.njit(cache=True, nogil=True)
def _scatter(
    key_base: np.ndarray,
    gid: np.ndarray,
    x0: np.ndarray,
    x1: np.ndarray,
    y0: np.ndarray,
    y1: np.ndarray,
    tiles_x: int,
    num_tiles: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of the pairs' tiles into CSR lists, keeping the pairs' order per tile.

    Args:
        key_base: [P] int64 camera * tiles_per_camera of each pair, pairs in (camera, depth, index) order.
        gid: [P] int64 Gaussian index of each pair.
        x0: [P] int64 first tile column.
        x1: [P] int64 one past the last tile column.
        y0: [P] int64 first tile row.
        y1: [P] int64 one past the last tile row.
        tiles_x: tiles per row.
        num_tiles: tiles over all cameras.

    Returns:
        (tile_starts [num_tiles + 1] int64, gaussian_ids [M] int64).
    """
    starts = np.zeros(num_tiles + 1, np.int64)
    for p in range(gid.shape[0]):
        for ty in range(y0[p], y1[p]):
            row = key_base[p] + ty * tiles_x
            for tx in range(x0[p], x1[p]):
                starts[row + tx + 1] += 1
    for t in range(num_tiles):
        starts[t + 1] += starts[t]
    cursor = starts[:-1].copy()
    ids = np.empty(starts[num_tiles], np.int64)
    for p in range(gid.shape[0]):
        g = gid[p]
        for ty in range(y0[p], y1[p]):
            row = key_base[p] + ty * tiles_x
            for tx in range(x0[p], x1[p]):
                ids[cursor[row + tx]] = g
                cursor[row + tx] += 1
    return starts, ids


def _camera_depth_order(cam: Tensor, depths: Tensor) -> Tensor:
    """Permutation putting the pairs in (camera, depth, index) order, as `bin_tiles` does.

    Positive float32 depths sort like their bit patterns read as integers, so camera and depth
    fit one int64 key and one stable integer sort (5x faster than two stable sorts, one of them
    on floats). Other dtypes or signs take the two stable sorts.

    Args:
        cam: [P] int64 camera of each pair, non-decreasing.
        depths: [P] camera depths.

    Returns:
        [P] int64 permutation.
    """
    if depths.dtype == torch.float32 and bool((depths > 0).all()):
        key = (cam << 32) | depths.contiguous().view(torch.int32).to(torch.int64)
        return torch.argsort(key, stable=True)
    order = torch.argsort(depths, stable=True)  # least significant key first
    return order[torch.argsort(cam[order], stable=True)]


@torch.no_grad()
def bin_tiles_fast(proj: Projection, width: int, height: int, tile_size: int) -> TileBins:
    """`binning.bin_tiles` with the expansion and tile sort done by a compiled counting sort.

    Args:
        proj: the projection of N Gaussians into C cameras (CPU tensors).
        width: image width in pixels.
        height: image height in pixels.
        tile_size: tile edge in pixels.

    Returns:
        The `TileBins`, equal to ``bin_tiles(proj, width, height, tile_size)``.
    """
    C = proj.num_cameras
    tiles_x = (width + tile_size - 1) // tile_size
    tiles_y = (height + tile_size - 1) // tile_size
    T = tiles_x * tiles_y
    cam, gid = torch.nonzero(proj.radii > 0, as_tuple=True)
    rx, ry = axis_extents(proj.conics.detach()[cam, gid], proj.opacities.detach()[cam, gid], proj.radii[cam, gid])
    x0, x1, y0, y1 = tile_ranges(proj.means2d.detach()[cam, gid], rx, ry, tile_size, tiles_x, tiles_y)
    order = _camera_depth_order(cam, proj.depths.detach()[cam, gid])
    starts, ids = _scatter(
        np.ascontiguousarray((cam[order] * T).numpy()),
        np.ascontiguousarray(gid[order].numpy()),
        np.ascontiguousarray(x0[order].numpy()),
        np.ascontiguousarray(x1[order].numpy()),
        np.ascontiguousarray(y0[order].numpy()),
        np.ascontiguousarray(y1[order].numpy()),
        tiles_x,
        C * T,
    )
    return TileBins(tile_size, tiles_x, tiles_y, torch.from_numpy(starts), torch.from_numpy(ids))


__all__ = ["bin_tiles_fast"]
