"""Tile binning: which Gaussians each 16x16 tile composites, front to back (no gradients).

A Gaussian with radius r > 0 intersects every tile overlapping its box
``[x - rx, x + rx] x [y - ry, y + ry]`` (clipped to the image), where rx, ry <= r are the
per-axis extents of the region where its alpha can reach 1/255:
``rx = ceil(sqrt(2 ln(255 o) cov_xx))`` with cov the low-passed 2D covariance (the inverse of the
conic). The box is contained in the radius square, and no pixel outside it can pass the 1/255
cut-off, so this only removes intersections that could never contribute. The intersections are stored in CSR
form ordered by camera, then tile (row-major), then depth ascending (ties: Gaussian index).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pgs.core.rendering.projection import Projection


@dataclass
class TileBins:
    """(camera, tile, Gaussian) intersections in CSR layout.

    Attributes:
        tile_size: tile edge in pixels.
        tiles_x: tiles per row, ceil(W / tile_size).
        tiles_y: tiles per column, ceil(H / tile_size).
        tile_starts: [C * tiles_y * tiles_x + 1] int64 offsets into `gaussian_ids`; tile
            ``t = (c * tiles_y + ty) * tiles_x + tx`` owns ``gaussian_ids[tile_starts[t]:tile_starts[t+1]]``.
        gaussian_ids: [M] int64 Gaussian index in 0..N-1 of each intersection, depth-sorted per tile.
    """

    tile_size: int
    tiles_x: int
    tiles_y: int
    tile_starts: Tensor
    gaussian_ids: Tensor

    @property
    def num_tiles(self) -> int:
        """Tiles per camera."""
        return self.tiles_x * self.tiles_y

    @property
    def num_intersections(self) -> int:
        """Total number M of (camera, tile, Gaussian) intersections."""
        return int(self.gaussian_ids.numel())

    def tile_lengths(self) -> Tensor:
        """[C * tiles_y * tiles_x] number of Gaussians of each tile."""
        return self.tile_starts[1:] - self.tile_starts[:-1]


def axis_extents(conics: Tensor, opacities: Tensor, radii: Tensor) -> tuple[Tensor, Tensor]:
    """Per-axis half-widths of the alpha >= 1/255 region, capped by the radius.

    Args:
        conics: [..., 3] (a, b, c) inverse 2D covariances.
        opacities: [...] activated opacities.
        radii: [...] integer radii.

    Returns:
        (rx, ry), each [...] whole-number floats.
    """
    a, b, c = conics.unbind(-1)
    det = torch.clamp_min(a * c - b * b, 1e-30)
    extent2 = 2.0 * torch.log(torch.clamp_min(opacities * 255.0, 1.0))
    r = radii.to(conics.dtype)
    rx = torch.minimum(torch.ceil(torch.sqrt(extent2 * c / det)), r)
    ry = torch.minimum(torch.ceil(torch.sqrt(extent2 * a / det)), r)
    return rx, ry


def tile_ranges(
    means2d: Tensor, rx: Tensor, ry: Tensor, tile_size: int, tiles_x: int, tiles_y: int
) -> tuple[Tensor, ...]:
    """Half-open tile index ranges each Gaussian's box overlaps.

    Args:
        means2d: [..., 2] pixel coordinates.
        rx: [...] half-width of the box in x (pixels).
        ry: [...] half-height of the box in y (pixels).
        tile_size: tile edge in pixels.
        tiles_x: tiles per row.
        tiles_y: tiles per column.

    Returns:
        (x0, x1, y0, y1), each [...] int64; empty where x1 <= x0 or y1 <= y0.
    """
    x, y = means2d[..., 0], means2d[..., 1]
    x0 = torch.floor((x - rx) / tile_size).clamp(0, tiles_x).to(torch.int64)
    x1 = torch.ceil((x + rx) / tile_size).clamp(0, tiles_x).to(torch.int64)
    y0 = torch.floor((y - ry) / tile_size).clamp(0, tiles_y).to(torch.int64)
    y1 = torch.ceil((y + ry) / tile_size).clamp(0, tiles_y).to(torch.int64)
    return x0, x1, y0, y1


@torch.no_grad()
def bin_tiles(proj: Projection, width: int, height: int, tile_size: int) -> TileBins:
    """Assign Gaussians to the tiles their radius square overlaps, depth-sorted per tile.

    Args:
        proj: the projection of N Gaussians into C cameras.
        width: image width in pixels.
        height: image height in pixels.
        tile_size: tile edge in pixels.

    Returns:
        The `TileBins`.
    """
    device = proj.means2d.device
    C = proj.num_cameras
    tiles_x = (width + tile_size - 1) // tile_size
    tiles_y = (height + tile_size - 1) // tile_size
    T = tiles_x * tiles_y

    means2d = proj.means2d.detach()
    cam, gid = torch.nonzero(proj.radii > 0, as_tuple=True)  # visible (camera, Gaussian) pairs
    rx, ry = axis_extents(proj.conics.detach()[cam, gid], proj.opacities.detach()[cam, gid], proj.radii[cam, gid])
    x0, x1, y0, y1 = tile_ranges(means2d[cam, gid], rx, ry, tile_size, tiles_x, tiles_y)
    w = (x1 - x0).clamp_min(0)
    h = (y1 - y0).clamp_min(0)
    counts = w * h
    keep = counts > 0
    cam, gid, x0, y0, w, counts = cam[keep], gid[keep], x0[keep], y0[keep], w[keep], counts[keep]

    # Order the pairs by (camera, depth, index): stable sorts, least significant key first.
    order = torch.argsort(proj.depths.detach()[cam, gid], stable=True)
    order = order[torch.argsort(cam[order], stable=True)]
    cam, gid, x0, y0, w, counts = cam[order], gid[order], x0[order], y0[order], w[order], counts[order]

    # Expand each pair into its tiles (row-major inside its rectangle).
    total = int(counts.sum())
    pair = torch.repeat_interleave(torch.arange(counts.numel(), device=device), counts, output_size=total)
    first = torch.cumsum(counts, 0) - counts
    local = torch.arange(total, device=device) - first[pair]
    tx = x0[pair] + local % w[pair]
    ty = y0[pair] + local // w[pair]
    tile_key = (cam[pair] * tiles_y + ty) * tiles_x + tx
    # Stable sort by tile keeps the (depth, index) order inside each tile.
    tile_key, perm = torch.sort(tile_key, stable=True)
    gaussian_ids = gid[pair[perm]]

    lengths = torch.bincount(tile_key, minlength=C * T)
    tile_starts = torch.zeros(C * T + 1, dtype=torch.int64, device=device)
    torch.cumsum(lengths, 0, out=tile_starts[1:])
    return TileBins(tile_size, tiles_x, tiles_y, tile_starts, gaussian_ids)


__all__ = ["TileBins", "axis_extents", "bin_tiles", "tile_ranges"]
