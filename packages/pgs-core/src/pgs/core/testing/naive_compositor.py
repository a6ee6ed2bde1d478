"""A straightforward vectorised tile compositor (plain autograd): the benchmark baseline.

Every tile's whole depth-sorted list is padded to the longest list of its chunk of tiles and
evaluated for all 256 pixels at once ([tiles, pixels, L]), with the 3DGS rules written as masks
over a cumulative product, and gradients left to autograd. No early exit, no custom backward:
this is the "straightforward" design the `torch` backend is measured against. Same signature
as `pgs.core.rendering.composite_torch.composite`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pgs.core.rendering.binning import TileBins
from pgs.core.rendering.projection import ALPHA_MAX, ALPHA_MIN, T_MIN, Projection


def naive_composite(
    proj: Projection,
    bins: TileBins,
    width: int,
    height: int,
    count_rule: str | None = "pixel-gs",
    chunk_elements: int = 1 << 23,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Composite with padded per-tile lists and autograd (see the module docstring).

    Args:
        proj: projection of N Gaussians into C cameras.
        bins: tile intersections.
        width: image width W.
        height: image height H.
        count_rule: Eq. 5 rule of the counts (``"paper"``: T before the Gaussian >= 1e-4;
            ``"pixel-gs"``: T after it), or None for no counts.
        chunk_elements: bound on the elements of one [tiles, pixels, L] temporary.

    Returns:
        (color [C, H, W, 3], alpha [C, H, W, 1], depth [C, H, W, 1], counts [C, N] int32 or None).
    """
    C, N = proj.num_cameras, proj.num_gaussians
    ts, tx, ty = bins.tile_size, bins.tiles_x, bins.tiles_y
    device, dtype = proj.means2d.device, proj.means2d.dtype
    P = ts * ts
    feat = torch.cat([proj.means2d, proj.conics, proj.opacities[..., None], proj.colors, proj.depths[..., None]], -1)
    feat = feat.reshape(C * N, 10)
    starts, lengths = bins.tile_starts[:-1], bins.tile_lengths()
    tile_cam = torch.arange(C * tx * ty, device=device) // (tx * ty)
    flat = torch.repeat_interleave(tile_cam, lengths, output_size=bins.num_intersections) * N + bins.gaussian_ids
    local = torch.arange(P, device=device)
    out = torch.zeros(C * tx * ty, P, 5, dtype=dtype, device=device)
    counts = torch.zeros(C * N, dtype=torch.int64, device=device)
    tiles = torch.nonzero(lengths > 0).flatten()
    tiles = tiles[torch.argsort(lengths[tiles])]
    pieces, index = [], []
    i = 0
    while i < tiles.numel():
        L = int(lengths[tiles[i]])
        j = i + 1
        while j < tiles.numel() and (j + 1 - i) * P * int(lengths[tiles[j]]) <= chunk_elements:
            j += 1
        chunk = tiles[i:j]
        L = int(lengths[chunk].max())
        slot = torch.arange(L, device=device)
        kval = slot[None, :] < lengths[chunk, None]
        fid = flat[torch.where(kval, starts[chunk, None] + slot[None, :], torch.zeros_like(slot[None, :]))]
        g = feat[fid]  # [B, L, 10]
        t = chunk % (tx * ty)
        px = ((t % tx) * ts)[:, None] + (local % ts)[None, :] + 0.5
        py = ((t // tx) * ts)[:, None] + (local // ts)[None, :] + 0.5
        dx = g[:, None, :, 0] - px[:, :, None].to(dtype)
        dy = g[:, None, :, 1] - py[:, :, None].to(dtype)
        sigma = 0.5 * (g[:, None, :, 2] * dx * dx + g[:, None, :, 4] * dy * dy) + g[:, None, :, 3] * dx * dy
        alpha = torch.clamp_max(g[:, None, :, 5] * torch.exp(-sigma), ALPHA_MAX)
        inside = (px < width) & (py < height)
        ok = (sigma >= 0) & (alpha >= ALPHA_MIN) & kval[:, None, :] & inside[:, :, None]
        alpha = torch.where(ok, alpha, torch.zeros_like(alpha))
        t_incl = torch.cumprod(1.0 - alpha, -1)
        contrib = ok & (t_incl >= T_MIN)
        t_excl = torch.cat([torch.ones_like(t_incl[..., :1]), t_incl[..., :-1]], -1)
        w = torch.where(contrib, alpha * t_excl, torch.zeros_like(alpha))
        rgbz = torch.einsum("bpl,blc->bpc", w, g[..., 6:10])
        t_final = torch.where(contrib, t_incl, torch.full_like(t_incl, 2.0)).amin(-1).clamp_max(1.0)
        pieces.append(torch.cat([rgbz, (1.0 - t_final)[..., None]], -1))
        index.append(chunk)
        counted = ok & (t_excl >= T_MIN) if count_rule == "paper" else contrib
        counts.index_add_(0, fid.flatten(), counted.sum(1).flatten())
        i = j
    if pieces:
        out = out.index_put((torch.cat(index),), torch.cat(pieces))
    img = out.view(C, ty, tx, ts, ts, 5).permute(0, 1, 3, 2, 4, 5).reshape(C, ty * ts, tx * ts, 5)
    img = img[:, :height, :width]
    final_counts = counts.view(C, N).to(torch.int32) if count_rule is not None else None
    return img[..., :3], img[..., 4:5], img[..., 3:4], final_counts


__all__ = ["naive_composite"]
