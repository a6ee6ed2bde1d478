"""Vectorised tile compositor of the `torch` backend, with a hand-written backward pass.

Rules (rasterizer contract, section 4; 3DGS, Kerbl et al. 2023, Eq. 3): for each pixel with centre
p, walk its tile's Gaussians front to back; d = mean2d - p,
sigma = 0.5 (a dx^2 + c dy^2) + b dx dy, alpha = min(0.99, o exp(-sigma)); skip if sigma < 0 or
alpha < 1/255; if T (1 - alpha) < 1e-4 the pixel is done and this Gaussian is not composited;
otherwise colour += c alpha T, depth += z alpha T, T *= 1 - alpha. Pixel counts (PGSTalker Eq. 5,
when asked for): rule ``"pixel-gs"`` counts the composited pixels (T after the Gaussian >= 1e-4);
rule ``"paper"`` counts every pixel where the Gaussian passes the alpha test and T before it is
>= 1e-4, which adds the Gaussian that saturates each saturated pixel.

How it is vectorised: all tiles advance together through their depth-sorted lists in blocks of
K Gaussians ("rounds"). In a round every active tile evaluates a [pixels, K] block of alphas;
the transmittance inside the block is a cumulative product, so the sequential rules become
masks: a Gaussian contributes iff it passes the 1/255 test and the transmittance after it stays
>= 1e-4 (transmittance only decreases, so this is exactly the sequential "stop" rule); the
paper's count mask is "passes and the transmittance before it >= 1e-4", the same prefix plus the
saturating Gaussian. A tile
leaves the loop when its list ends or all its pixels are done, so saturated tiles stop early.
Blocks grow geometrically (32, 32, 64, 64, ... 256) and each round is split into chunks of tiles
so that no temporary holds more than `CHUNK_ELEMENTS` values: memory stays bounded for any
scene and no [N, H, W] tensor is ever formed.

The forward pass keeps what the backward pass needs of its blocks (raw alpha, transmittance,
composited mask) up to `CACHE_BYTES`; the backward pass recomputes the rest by replaying the
same rounds (bitwise the same masks and transmittances) from a snapshot of the round where the
cache filled. Masks are 0/1 float tensors: on CPU, float comparisons and products are several
times faster than bool tensors, ``masked_fill_`` and ``where``. The backward uses the closed
form of the 3DGS gradient: with S_k the colour composited after Gaussian k and
T_final the final transmittance, dC/dalpha_k = T_k c_k - S_k / (1 - alpha_k) and
d(1 - T_final)/dalpha_k = T_final / (1 - alpha_k). S_k is obtained from the forward total minus
a running prefix, projected onto the incoming gradient first so that only [pixels, K] scalars
are formed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pgs.core.errors import RenderError
from pgs.core.rendering.binning import TileBins
from pgs.core.rendering.projection import ALPHA_MAX, ALPHA_MIN, T_MIN, Projection

#: Upper bound on the elements of one [tiles, pixels, K] temporary (2 MB in float32: chunks that
#: stay in cache were 15 % faster than 16 MB ones at 512x512 / 30k Gaussians on 2 cores).
CHUNK_ELEMENTS = 1 << 19
#: Depth-block sizes of the successive rounds (the last one repeats).
BLOCK_SCHEDULE = (32, 32, 64, 64, 128, 128, 256)
#: Memory the forward pass may keep for the backward pass (12 bytes per evaluated (pixel,
#: Gaussian) pair: raw alpha, transmittance and the composited mask). Blocks past it are
#: recomputed in the backward pass, resuming from a snapshot of the state at their round.
CACHE_BYTES = 512 << 20

# Columns of the packed per-(camera, Gaussian) feature table.
_MX, _MY, _CA, _CB, _CC, _OP, _R, _G, _B, _Z = range(10)
_NFEAT = 10


@dataclass
class _Layout:
    """Static description of the tile grid and the intersections (no autograd)."""

    width: int
    height: int
    tile_size: int
    tiles_x: int
    tiles_y: int
    num_cameras: int
    tile_starts: Tensor  # [C*T + 1]
    flat_ids: Tensor  # [M] camera * N + gaussian id
    lx: Tensor  # [P] pixel column inside a tile
    ly: Tensor  # [P] pixel row inside a tile
    cache_bytes: int = 0  # forward blocks kept for the backward pass (0: recompute all)
    count_rule: str | None = "pixel-gs"  # Eq. 5 rule of the pixel counts, None: no counts

    @property
    def num_tiles(self) -> int:
        return self.num_cameras * self.tiles_x * self.tiles_y

    def pixel_centres(self, tiles: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        """Pixel centres [B, P] (x, y) of `tiles` and whether each pixel lies in the image."""
        t = tiles % (self.tiles_x * self.tiles_y)
        x0 = (t % self.tiles_x) * self.tile_size
        y0 = (t // self.tiles_x) * self.tile_size
        ix = x0[:, None] + self.lx[None, :]
        iy = y0[:, None] + self.ly[None, :]
        inside = (ix < self.width) & (iy < self.height)
        return ix.to(dtype) + 0.5, iy.to(dtype) + 0.5, inside


@dataclass
class _Block:
    """One chunk of active tiles in one round, with everything the forward pass computed."""

    tiles: Tensor  # [B] global tile index
    fid: Tensor  # [B, K] flat (camera, Gaussian) id of each slot (0 for empty slots)
    feat: Tensor  # [B, K, F] gathered features (opacity 0 in empty slots)
    dx: Tensor  # [B, P, K]
    dy: Tensor
    alpha: Tensor  # clamped alpha, 0 where skipped
    raw: Tensor  # o * exp(-sigma) before the clamp
    contrib: Tensor  # [B, P, K] 1.0 where the Gaussian is composited into the pixel, else 0.0
    t_excl: Tensor  # [B, P, K] transmittance before each Gaussian
    weight: Tensor  # [B, P, K] alpha * T where contributing, else 0
    counted: Tensor | None  # [B, P, K] 1.0 where the pixel counts for the Gaussian (Eq. 5), or None
    round_index: int  # round r of `_rounds`
    chunk_index: int  # position of this chunk among the round's chunks


@dataclass
class _Cached:
    """What the backward pass needs of a forward block (the rest is cheap to recompute)."""

    tiles: Tensor
    fid: Tensor
    feat: Tensor
    raw: Tensor
    contrib: Tensor
    t_excl: Tensor
    trans_after: Tensor  # [B, P] the tiles' transmittance after this block
    live_after: Tensor  # [B, P]
    round_index: int


@dataclass
class _Snapshots:
    """Where `_rounds` keeps the state at the start of its latest round, while `enabled`."""

    enabled: bool = True
    latest: _RoundStart | None = None


@dataclass
class _RoundStart:
    """State of `_rounds` at the start of a round, to resume from (backward of uncached blocks)."""

    round_index: int
    pos: Tensor  # [C*T] list position of every tile
    active: Tensor  # [A] tiles still compositing
    trans: Tensor  # [C*T, P]
    live: Tensor  # [C*T, P]
    skip_chunks: int = 0  # chunks of this round already done (cached)

    @staticmethod
    def from_the_start() -> _RoundStart:
        """The marker for "nothing cached: replay every round" (round -1, no state)."""
        empty = torch.empty(0)
        return _RoundStart(-1, empty, empty, empty, empty)


def _step(values: Tensor, threshold: float) -> Tensor:
    """1.0 where ``values >= threshold``, else 0.0, in the dtype of `values`.

    A float mask: PyTorch's CPU kernels write float comparison results and multiply by them
    several times faster than they produce bool tensors, ``masked_fill_`` or ``where``.
    """
    return torch.ge(values, threshold, out=torch.empty_like(values))


def _pixel_offsets(lay: _Layout, tiles: Tensor, feat: Tensor) -> tuple[Tensor, Tensor]:
    """dx, dy [B, P, K]: Gaussian centre minus pixel centre for the [B, K, F] features of `tiles`."""
    px, py, _ = lay.pixel_centres(tiles, feat.dtype)
    return feat[:, None, :, _MX] - px[:, :, None], feat[:, None, :, _MY] - py[:, :, None]


def _evaluate_chunk(
    lay: _Layout,
    feat: Tensor,
    trans: Tensor,
    live: Tensor,
    chunk: Tensor,
    pos: Tensor,
    kr: Tensor,
    r: int,
    chunk_index: int,
    count_rule: str | None,
) -> _Block:
    """Composite the next K slots of the tiles `chunk` (one block of `_rounds`); updates `trans`/`live`.

    Args:
        lay: tile layout.
        feat: [C*N, F] packed features.
        trans: [C*T, P] transmittance (the rows of `chunk` are updated in place).
        live: [C*T, P] 1.0 for pixels not done yet (the rows of `chunk` are updated in place).
        chunk: [B] global tile indices.
        pos: [C*T] each tile's position in its list.
        kr: [K] ``arange(K)``.
        r: the round index.
        chunk_index: this chunk's position among the round's chunks.
        count_rule: the Eq. 5 rule of the block's ``counted`` mask, or None (no mask).
    """
    starts = lay.tile_starts[:-1]
    lengths = lay.tile_starts[1:] - starts
    K = kr.numel()
    slot = pos[chunk, None] + kr[None, :]
    kval = slot < lengths[chunk, None]  # [B, K]
    idx = torch.where(kval, starts[chunk, None] + slot, torch.zeros_like(slot))
    fid = lay.flat_ids[idx]
    g = feat[fid]  # [B, K, F]
    g[..., _OP] *= kval  # empty slots: opacity 0, so alpha 0 and never composited
    dx, dy = _pixel_offsets(lay, chunk, g)  # [B, P, K]
    # -sigma = -0.5 (a dx^2 + c dy^2) - b dx dy with sigma = 0.5 d^T conic d, in few
    # temporaries; negating the conic entries negates every product and sum exactly, so
    # this is bitwise the negative of the contract's sigma.
    neg_sigma = dx * dx
    neg_sigma.mul_(-g[:, None, :, _CA])
    tmp = dy * dy
    tmp.mul_(-g[:, None, :, _CC])
    neg_sigma.add_(tmp).mul_(0.5)
    torch.mul(dx, dy, out=tmp)
    neg_sigma.addcmul_(tmp, -g[:, None, :, _CB].expand_as(tmp))
    sigma_ok = torch.le(neg_sigma, 0.0, out=torch.empty_like(neg_sigma))  # sigma >= 0
    raw = neg_sigma.exp_().mul_(g[:, None, :, _OP])  # o exp(-sigma), in place
    alpha = torch.clamp_max(raw, ALPHA_MAX)
    # passes: sigma >= 0, alpha >= 1/255, a real slot (opacity 0 otherwise), pixel live
    passes = _step(alpha, ALPHA_MIN).mul_(sigma_ok).mul_(live[chunk][:, :, None])
    alpha.mul_(passes)
    torch.sub(1.0, alpha, out=tmp)
    t0 = trans[chunk]
    t_incl = torch.cumprod(tmp, dim=-1).mul_(t0[:, :, None])
    # Transmittance only falls, so t_incl >= 1e-4 holds on a prefix of the block: the
    # Gaussians that pass before the pixel saturates are composited (3DGS stop rule).
    above = _step(t_incl, T_MIN)
    contrib = above * passes
    t_excl = torch.cat([t0[:, :, None], t_incl[:, :, :-1]], dim=-1)
    weight = alpha * t_excl
    weight.mul_(contrib)
    if count_rule == "paper":  # Eq. 5 as written: T before the Gaussian >= 1e-4
        counted = _step(t_excl, T_MIN).mul_(passes)
    else:  # pixel-gs (composited pixels), or no counts
        counted = contrib if count_rule is not None else None
    # New transmittance: t_incl at the end of that prefix (Gaussians that do not pass
    # multiply it by exactly 1), or t0 if it is empty. A pixel whose product fell below
    # 1e-4 met its saturating Gaussian and is done.
    kept = above.sum(-1, keepdim=True).to(torch.int64)  # [B, P, 1] prefix length
    at_end = torch.gather(t_incl, -1, (kept - 1).clamp_min_(0))[..., 0]
    trans[chunk] = torch.where(kept[..., 0] > 0, at_end, t0)
    live[chunk] = live[chunk] * (kept[..., 0] == K)
    return _Block(chunk, fid, g, dx, dy, alpha, raw, contrib, t_excl, weight, counted, r, chunk_index)


def _rounds(
    lay: _Layout,
    feat: Tensor,
    trans: Tensor,
    live: Tensor,
    start: _RoundStart | None = None,
    snapshots: _Snapshots | None = None,
    count_rule: str | None = None,
) -> Iterator[_Block]:
    """Advance every tile through its list; yields each evaluated block and updates `trans`/`live`.

    Args:
        lay: tile layout.
        feat: [C*N, F] packed features.
        trans: [C*T, P] transmittance (updated in place).
        live: [C*T, P] 1.0 for pixels not done yet, else 0.0 (updated in place).
        start: resume here instead of at the beginning (`trans` and `live` must hold the state
            of the tiles at that point).
        snapshots: if given (and enabled), the state at the start of each round is kept in it.
        count_rule: the Eq. 5 rule of the blocks' ``counted`` masks, or None (no masks).
    """
    device = feat.device
    starts = lay.tile_starts[:-1]
    lengths = lay.tile_starts[1:] - starts
    if start is None:
        pos = torch.zeros_like(lengths)
        active = torch.nonzero((lengths > 0) & (live.amax(1) > 0)).flatten()
        r, skip = 0, 0
    else:
        pos, active, r, skip = start.pos.clone(), start.active, start.round_index, start.skip_chunks
    P = lay.lx.numel()
    while active.numel() > 0:
        if snapshots is not None and snapshots.enabled:
            snapshots.latest = _RoundStart(r, pos.clone(), active, trans.clone(), live.clone())
        K = BLOCK_SCHEDULE[min(r, len(BLOCK_SCHEDULE) - 1)]
        kr = torch.arange(K, device=device)
        per_chunk = max(1, CHUNK_ELEMENTS // (P * K))
        for chunk_index, chunk in enumerate(torch.split(active, per_chunk)):
            if chunk_index < skip:
                continue
            yield _evaluate_chunk(lay, feat, trans, live, chunk, pos, kr, r, chunk_index, count_rule)
        pos[active] += K
        still = (pos[active] < lengths[active]) & (live[active].amax(1) > 0)
        active = active[still]
        r += 1
        skip = 0


def _to_tiles(lay: _Layout, image: Tensor) -> Tensor:
    """[C, H, W, D] image -> [C*T, P, D] per-tile pixels (zero padded)."""
    C, H, W, D = image.shape
    ts = lay.tile_size
    padded = image.new_zeros(C, lay.tiles_y * ts, lay.tiles_x * ts, D)
    padded[:, :H, :W] = image
    t = padded.view(C, lay.tiles_y, ts, lay.tiles_x, ts, D).permute(0, 1, 3, 2, 4, 5)
    return t.reshape(C * lay.tiles_y * lay.tiles_x, ts * ts, D)


def _from_tiles(lay: _Layout, tiles: Tensor) -> Tensor:
    """[C*T, P, D] per-tile pixels -> [C, H, W, D] image."""
    ts = lay.tile_size
    D = tiles.shape[-1]
    t = tiles.view(lay.num_cameras, lay.tiles_y, lay.tiles_x, ts, ts, D).permute(0, 1, 3, 2, 4, 5)
    img = t.reshape(lay.num_cameras, lay.tiles_y * ts, lay.tiles_x * ts, D)
    return img[:, : lay.height, : lay.width].contiguous()


def _initial_state(lay: _Layout, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    P = lay.lx.numel()
    trans = torch.ones(lay.num_tiles, P, dtype=dtype, device=device)
    _, _, inside = lay.pixel_centres(torch.arange(lay.num_tiles, device=device), dtype)
    return trans, inside.to(dtype)


class _CompositeFunction(torch.autograd.Function):
    """Differentiable compositing w.r.t. the packed per-(camera, Gaussian) features.

    The forward pass keeps up to `CACHE_BYTES` of its blocks for the backward pass; the rest
    are recomputed by resuming `_rounds` from a snapshot of the round where the cache filled.
    """

    @staticmethod
    def forward(ctx: Any, feat: Tensor, lay: _Layout) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # type: ignore[override]
        dtype, device = feat.dtype, feat.device
        P = lay.lx.numel()
        trans, live = _initial_state(lay, dtype, device)
        color = torch.zeros(lay.num_tiles, P, 3, dtype=dtype, device=device)
        depth = torch.zeros(lay.num_tiles, P, 1, dtype=dtype, device=device)
        counts = torch.zeros(feat.shape[0], dtype=torch.int64, device=device)
        rgbz = [_R, _G, _B, _Z]
        cache: list[_Cached] = []
        snapshots = _Snapshots(enabled=lay.cache_bytes > 0)
        # resume: None = everything cached; round -1 = nothing cached, replay from the start
        resume: _RoundStart | None = None if snapshots.enabled else _RoundStart.from_the_start()
        used = 0
        for blk in _rounds(lay, feat, trans, live, snapshots=snapshots, count_rule=lay.count_rule):
            cz = torch.bmm(blk.weight, blk.feat[:, :, rgbz])  # [B, P, 4]
            color[blk.tiles] += cz[..., :3]
            depth[blk.tiles] += cz[..., 3:]
            if blk.counted is not None:
                counts.index_add_(0, blk.fid.flatten(), blk.counted.sum(1).flatten().to(torch.int64))
            if not snapshots.enabled:
                continue
            need = 3 * blk.raw.numel() * blk.raw.element_size()
            if used + need <= lay.cache_bytes:
                used += need
                t = blk.tiles
                cache.append(
                    _Cached(t, blk.fid, blk.feat, blk.raw, blk.contrib, blk.t_excl, trans[t], live[t], blk.round_index)
                )
            else:  # cache full: the backward pass resumes here
                snapshots.enabled = False
                assert snapshots.latest is not None and snapshots.latest.round_index == blk.round_index
                resume = snapshots.latest
                resume.skip_chunks = blk.chunk_index
        ctx.lay = lay
        ctx.cache = cache
        ctx.resume = resume
        ctx.save_for_backward(feat, color, depth, trans)
        counts_out = counts.to(torch.int32)
        ctx.mark_non_differentiable(counts_out)
        return (
            _from_tiles(lay, color),
            _from_tiles(lay, (1.0 - trans)[..., None]),
            _from_tiles(lay, depth),
            counts_out,
        )

    @staticmethod
    def _blocks_for_backward(ctx: Any, feat: Tensor) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]]:
        """(tiles, fid, feat, raw, contrib, t_excl) of every forward block, in forward order."""
        lay: _Layout = ctx.lay
        cache, resume = ctx.cache, ctx.resume
        if cache is None:  # a second backward through a retained graph: recompute everything
            cache, resume = [], _RoundStart.from_the_start()
        ctx.cache = None  # release the memory as soon as it has been used
        for c in cache:
            yield c.tiles, c.fid, c.feat, c.raw, c.contrib, c.t_excl
        if resume is None:
            return
        if resume.round_index < 0:  # nothing cached: replay from the start
            trans, live = _initial_state(lay, feat.dtype, feat.device)
            start = None
        else:
            trans, live = resume.trans.clone(), resume.live.clone()
            for c in cache:  # chunks of the resumed round that were cached have moved on
                if c.round_index == resume.round_index:
                    trans[c.tiles] = c.trans_after
                    live[c.tiles] = c.live_after
            start = resume
        for blk in _rounds(lay, feat, trans, live, start=start):
            yield blk.tiles, blk.fid, blk.feat, blk.raw, blk.contrib, blk.t_excl

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, g_color: Tensor | None, g_alpha: Tensor | None, g_depth: Tensor | None, _g_counts: Tensor | None
    ) -> tuple[Tensor | None, None]:
        feat, color_t, depth_t, trans_final = ctx.saved_tensors
        lay: _Layout = ctx.lay
        dtype, device = feat.dtype, feat.device
        P = lay.lx.numel()
        zeros3 = torch.zeros(lay.num_cameras, lay.height, lay.width, 3, dtype=dtype, device=device)
        zeros1 = zeros3[..., :1]
        gc = _to_tiles(lay, g_color if g_color is not None else zeros3)  # [CT, P, 3]
        ga = _to_tiles(lay, g_alpha if g_alpha is not None else zeros1)[..., 0]  # [CT, P]
        gd = _to_tiles(lay, g_depth if g_depth is not None else zeros1)[..., 0]
        # G = g . (total colour, depth): the part of the loss gradient carried by all Gaussians.
        g_total = (gc * color_t).sum(-1) + gd * depth_t[..., 0]
        prefix = torch.zeros(lay.num_tiles, P, dtype=dtype, device=device)
        grad = torch.zeros_like(feat)
        for t, fid, bfeat, raw, contrib, t_excl in _CompositeFunction._blocks_for_backward(ctx, feat):
            g_c, g_d = gc[t], gd[t]
            dx, dy = _pixel_offsets(lay, t, bfeat)
            # alpha where composited (elsewhere every term below is multiplied by contrib = 0)
            alpha = torch.clamp_max(raw, ALPHA_MAX)
            weight = alpha * t_excl
            weight.mul_(contrib)
            cols = bfeat[:, :, _R : _B + 1]  # [B, K, 3]
            z = bfeat[:, :, _Z]  # [B, K]
            u = torch.bmm(g_c, cols.transpose(1, 2)) + g_d[:, :, None] * z[:, None, :]  # [B, P, K]
            wu = weight * u
            pre = prefix[t][:, :, None] + torch.cumsum(wu, -1)  # colour/depth up to and incl. k, projected
            prefix[t] = pre[:, :, -1]
            after = g_total[t][:, :, None] - pre - (ga[t] * trans_final[t])[:, :, None]
            d_alpha = t_excl * u - after / (1.0 - alpha)
            # the clamp at 0.99 passes no gradient
            d_alpha.mul_(torch.lt(raw, ALPHA_MAX, out=torch.empty_like(d_alpha)).mul_(contrib))
            d_sigma = -d_alpha * alpha  # alpha = o exp(-sigma)
            # sums over pixels of d_sigma times the monomials of sigma's derivatives; the conic
            # entries (constant per Gaussian) multiply the [B, K] sums afterwards
            ds_x = d_sigma * dx
            ds_y = d_sigma * dy
            s_x, s_y = ds_x.sum(1), ds_y.sum(1)
            ca, cb, cc = bfeat[..., _CA], bfeat[..., _CB], bfeat[..., _CC]
            g = torch.empty(*fid.shape, _NFEAT, dtype=dtype, device=device)
            g[..., _MX] = ca * s_x + cb * s_y
            g[..., _MY] = cc * s_y + cb * s_x
            g[..., _CA] = 0.5 * (ds_x * dx).sum(1)
            g[..., _CB] = (ds_x * dy).sum(1)
            g[..., _CC] = 0.5 * (ds_y * dy).sum(1)
            # d alpha / d o = exp(-sigma) = raw / o (alpha is 0, so d_alpha is 0, where o = 0)
            op = bfeat[..., _OP]
            g[..., _OP] = (d_alpha * raw).sum(1) / torch.where(op > 0, op, torch.ones_like(op))
            w_t = weight.transpose(1, 2)  # [B, K, P]
            g[..., _R : _B + 1] = torch.bmm(w_t, g_c)
            g[..., _Z] = torch.bmm(w_t, g_d[:, :, None])[..., 0]
            grad.index_add_(0, fid.flatten(), g.reshape(-1, _NFEAT))
        return grad, None


def composite(
    proj: Projection, bins: TileBins, width: int, height: int, count_rule: str | None = "pixel-gs"
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Front-to-back alpha compositing of binned, projected Gaussians (3DGS rules).

    Without a gradient to compute (``torch.no_grad()`` or no input requiring grad) this is the
    inference fast path: no block is cached or snapshotted for a backward pass.

    Args:
        proj: projection of N Gaussians into C cameras.
        bins: tile intersections from `bin_tiles` for the same image size.
        width: image width W.
        height: image height H.
        count_rule: Eq. 5 pixel-count rule, ``"paper"`` or ``"pixel-gs"``; None skips counting.

    Returns:
        (color [C, H, W, 3] premultiplied, alpha [C, H, W, 1], depth [C, H, W, 1],
        counts [C, N] int32 pixels per Gaussian by `count_rule` (before the Eq. 4 mask), or None).
        Differentiable w.r.t. proj.means2d, conics, colors, opacities and depths.
    """
    if count_rule not in (None, "paper", "pixel-gs"):
        raise RenderError(f"pixel_count_rule {count_rule!r} is not one of 'paper', 'pixel-gs'")
    C, N = proj.num_cameras, proj.num_gaussians
    ts = bins.tile_size
    if bins.tiles_x != (width + ts - 1) // ts or bins.tiles_y != (height + ts - 1) // ts:
        raise RenderError(f"bins were made for a {bins.tiles_x}x{bins.tiles_y} tile grid, not a {width}x{height} image")
    if bins.tile_starts.numel() != C * bins.tiles_x * bins.tiles_y + 1:
        raise RenderError("bins were made for a different number of cameras")
    device = proj.means2d.device
    dtype = proj.means2d.dtype
    feat = torch.cat(
        [
            proj.means2d,
            proj.conics,
            proj.opacities[..., None],
            proj.colors,
            proj.depths[..., None],
        ],
        dim=-1,
    ).reshape(C * N, _NFEAT)
    lengths = bins.tile_lengths()
    tile_cam = torch.arange(lengths.numel(), device=device) // (bins.tiles_x * bins.tiles_y)
    cam_of_isect = torch.repeat_interleave(tile_cam, lengths, output_size=bins.num_intersections)
    local = torch.arange(ts * ts, device=device)
    lay = _Layout(
        width=int(width),
        height=int(height),
        tile_size=ts,
        tiles_x=bins.tiles_x,
        tiles_y=bins.tiles_y,
        num_cameras=C,
        tile_starts=bins.tile_starts,
        flat_ids=cam_of_isect * N + bins.gaussian_ids,
        lx=local % ts,
        ly=local // ts,
        cache_bytes=CACHE_BYTES if torch.is_grad_enabled() and feat.requires_grad else 0,
        count_rule=count_rule,
    )
    color, alpha, depth, counts = _CompositeFunction.apply(feat.to(dtype), lay)
    return color, alpha, depth, counts.view(C, N) if count_rule is not None else None


__all__ = ["BLOCK_SCHEDULE", "CACHE_BYTES", "CHUNK_ELEMENTS", "composite"]
