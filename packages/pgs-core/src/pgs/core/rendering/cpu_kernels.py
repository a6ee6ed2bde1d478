"""Compiled (numba) per-tile compositing kernels of the `cpu` rasterizer backend.

The kernels implement the compositing rules of the rasterizer contract (3DGS, Kerbl et al. 2023,
Eq. 3 alpha blending; pixel counts m_k^i of PGSTalker Eq. 5) over tiles binned by
`pgs.core.rendering.binning.bin_tiles` (or the identical `binning_fast.bin_tiles_fast`):

- `forward_tiles`: front-to-back per pixel, parallel over tiles (``prange``); each tile writes
  only its own pixels and its own range of the intersection list, so the result does not depend
  on thread scheduling. It stores, per pixel, the final transmittance and the end of the
  composited range of the tile list, which the backward pass walks back from.
- `backward_tiles`: back-to-front per pixel (as in 3DGS), recovering the transmittance before
  each Gaussian by division, writing per-intersection gradients into its tile's range of an
  ``[M, 10]`` buffer.
- `reduce_counts`, `reduce_gradients`: sum per-intersection pixel counts and gradients into
  per-Gaussian arrays in a fixed (intersection) order: deterministic, no atomics.

Loop order. Inside a tile the Gaussians are the outer loop (front to back, or back to front in
the backward pass), then the pixel rows the Gaussian's ellipse reaches, then only the pixel
columns of that row inside the ellipse sigma <= log(255 o) (a conservative span, see `_pack`).
Every pixel still sees its Gaussians in list order with the same float32 operations, so the
result equals a per-pixel walk; but a Gaussian's gradient is summed in registers over its pixels
and written once, and pixels outside its ellipse are never visited. One 64-bit mask per pixel
row marks the pixels still compositing (forward: not saturated; backward: whose composited range
reaches the current Gaussian), so saturated regions cost one test per row.

All arithmetic is float32 (constants are float32 so numba does not promote to float64) and the
kernels are compiled with ``cache=True``: the first call in a fresh environment compiles (a few
seconds), later processes load the machine code from numba's on-disk cache.

Intersection record layout (``packed[m, :]``, one row per (camera, tile, Gaussian) entry):
``mx, my, a, b, c, opacity, sigma_max, r, g, b, z, 0``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

# float32 constants: a float64 Python literal would promote float32 arithmetic to float64.
_ZERO = np.float32(0.0)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ALPHA_MAX = np.float32(0.99)
_ALPHA_MIN = np.float32(1.0 / 255.0)
_T_MIN = np.float32(1e-4)
# sigma_max = log(255 * opacity) + margin: pairs with sigma above it have alpha < 1/255 for sure,
# so `exp` is skipped for them; the exact test (alpha < 1/255) still decides for the rest.
_SIGMA_MARGIN = 1e-3
# Extra pixels on each side of a Gaussian's row span (float64 span arithmetic; conservative).
_SPAN_PAD = 0.01

#: Columns of the packed intersection record.
PACK_WIDTH = 12
#: Columns of the per-intersection gradient record: d means2d (2), d conic (3), d colour (3),
#: d opacity (1), d depth (1).
GRAD_WIDTH = 10


@numba.njit(cache=True, nogil=True, inline="always")
def _pack(
    m: int,
    g: int,
    means2d: np.ndarray,
    conics: np.ndarray,
    colors: np.ndarray,
    opacities: np.ndarray,
    depths: np.ndarray,
    packed: np.ndarray,
    spans: np.ndarray,
    rows: np.ndarray,
) -> None:
    """Write intersection record `m` for Gaussian row `g`, with its row range and span coefficients.

    The pixels a Gaussian can composite into satisfy sigma <= sigma_max. For a conservative
    superset, the ellipse sigma <= s' with s' = sigma_max (1 + 1e-2) + 0.05 is intersected with
    each pixel row: with dy = my - (y + 0.5), the pixel columns x satisfy
    |x + 0.5 - mx - (b / a) dy| <= sqrt(2 s' / a - (det / a^2) dy^2), det = a c - b^2.
    The margins cover float32 rounding of sigma; the exact alpha test still decides per pixel.
    Ill-conditioned or non-positive-definite conics fall back to whole tile rows.
    """
    op = opacities[g]
    ca = conics[g, 0]
    cb = conics[g, 1]
    cc = conics[g, 2]
    packed[m, 0] = means2d[g, 0]
    packed[m, 1] = means2d[g, 1]
    packed[m, 2] = ca
    packed[m, 3] = cb
    packed[m, 4] = cc
    packed[m, 5] = op
    packed[m, 7] = colors[g, 0]
    packed[m, 8] = colors[g, 1]
    packed[m, 9] = colors[g, 2]
    packed[m, 10] = depths[g]
    packed[m, 11] = _ZERO
    if not op * 255.0 >= 1.0:  # also catches NaN: alpha < 1/255 everywhere, never composited
        packed[m, 6] = np.float32(-1.0)
        rows[m, 0] = 1
        rows[m, 1] = 0
        return
    thr = math.log(255.0 * np.float64(op)) + _SIGMA_MARGIN
    packed[m, 6] = np.float32(thr)
    a = np.float64(ca)
    b = np.float64(cb)
    c = np.float64(cc)
    det = a * c - b * b
    half_trace = 0.5 * (a + c)
    root = math.sqrt(max(0.0, half_trace * half_trace - det))
    lam_max = half_trace + root
    lam_min = det / lam_max if lam_max > 0.0 else 0.0
    s_wide = thr * 1.01 + 0.05
    if a > 0.0 and det > 0.0 and lam_min * 1e4 > lam_max:
        my = np.float64(means2d[g, 1])
        half_h = math.sqrt(2.0 * s_wide * a / det)  # row extent: cov_yy = a / det
        rows[m, 0] = math.ceil(my - half_h - 0.5 - _SPAN_PAD)
        rows[m, 1] = math.floor(my + half_h - 0.5 + _SPAN_PAD)
        spans[m, 0] = b / a
        spans[m, 1] = 2.0 * s_wide / a
        spans[m, 2] = det / (a * a)
        spans[m, 3] = 1.0
    else:
        rows[m, 0] = -(1 << 30)
        rows[m, 1] = 1 << 30
        spans[m, 3] = 0.0  # whole tile rows


@numba.njit(cache=True, nogil=True, inline="always")
def _row_span(m: int, py: float, x0: int, x1: int, packed: np.ndarray, spans: np.ndarray) -> tuple[int, int]:
    """Half-open pixel column range of row centre `py` that intersection `m` may cover, clipped to [x0, x1)."""
    if spans[m, 3] == 0.0:
        return x0, x1
    dy = np.float64(packed[m, 1]) - py
    disc = spans[m, 1] - spans[m, 2] * dy * dy
    if disc < 0.0:
        return x0, x0
    half_w = math.sqrt(disc)
    centre = np.float64(packed[m, 0]) + spans[m, 0] * dy - 0.5
    lo = max(x0, math.ceil(centre - half_w - _SPAN_PAD))
    hi = min(x1, math.floor(centre + half_w + _SPAN_PAD) + 1)
    return lo, hi


@numba.njit(cache=True, nogil=True, inline="always")
def _bits(first: int, count: int) -> np.int64:
    """int64 with `count` bits set from bit `first` (first + count <= 64)."""
    if count >= 64:
        return np.int64(-1)
    return ((np.int64(1) << np.int64(count)) - np.int64(1)) << np.int64(first)


@numba.njit(cache=True, nogil=True, parallel=True)
def forward_tiles(
    means2d: np.ndarray,
    conics: np.ndarray,
    colors: np.ndarray,
    opacities: np.ndarray,
    depths: np.ndarray,
    tile_starts: np.ndarray,
    gaussian_ids: np.ndarray,
    num_gaussians: int,
    width: int,
    height: int,
    tile_size: int,
    tiles_x: int,
    tiles_y: int,
    out_color: np.ndarray,
    out_depth: np.ndarray,
    out_trans: np.ndarray,
    out_last: np.ndarray,
    packed: np.ndarray,
    spans: np.ndarray,
    rows: np.ndarray,
    counts_m: np.ndarray,
) -> None:
    """Front-to-back compositing of every tile of every camera.

    Each pixel walks its tile's list front to back exactly as the contract says; the Gaussians
    are the outer loop and each visits only the pixel columns its ellipse can reach in each row
    (results are identical to a per-pixel walk; see the module docstring).

    Args:
        means2d: [C*N, 2] float32 pixel centres.
        conics: [C*N, 3] float32 (a, b, c) inverse 2D covariances.
        colors: [C*N, 3] float32 colours.
        opacities: [C*N] float32 opacities in [0, 1].
        depths: [C*N] float32 camera depths.
        tile_starts: [C*tiles_y*tiles_x + 1] int64 CSR offsets into `gaussian_ids`.
        gaussian_ids: [M] int64 Gaussian index (into N) of each intersection, depth-sorted per tile.
        num_gaussians: N.
        width: W.
        height: H.
        tile_size: tile edge in pixels.
        tiles_x: tiles per row.
        tiles_y: tiles per column.
        out_color: [C, H, W, 3] float32, written (premultiplied colour).
        out_depth: [C, H, W] float32, written (alpha-weighted depth).
        out_trans: [C, H, W] float32, written (final transmittance T; alpha = 1 - T).
        out_last: [C, H, W] int64, written: one past the last composited intersection index.
        packed: [M, PACK_WIDTH] float32, written: the intersection records (reused by backward).
        spans: [M, 4] float64, written: row-span coefficients (reused by backward).
        rows: [M, 2] int64, written: first and last pixel row each intersection may cover.
        counts_m: [M] int32, written: composited pixels of each intersection.
    """
    tiles_per_cam = tiles_x * tiles_y
    num_tiles = tile_starts.shape[0] - 1
    for t in prange(num_tiles):
        cam = t // tiles_per_cam
        rem = t - cam * tiles_per_cam
        ty = rem // tiles_x
        tx = rem - ty * tiles_x
        start = tile_starts[t]
        end = tile_starts[t + 1]
        base = cam * num_gaussians
        for m in range(start, end):
            _pack(m, base + gaussian_ids[m], means2d, conics, colors, opacities, depths, packed, spans, rows)
            counts_m[m] = 0  # stays 0 for intersections after the tile is saturated
        x0 = tx * tile_size
        y0 = ty * tile_size
        x1 = min(x0 + tile_size, width)
        y1 = min(y0 + tile_size, height)
        tw = x1 - x0
        th = y1 - y0
        npix = tw * th
        # per-pixel state of the tile (row-major): T, r, g, b, depth, end of the composited range
        s_t = np.ones(npix, np.float32)
        s_r = np.zeros(npix, np.float32)
        s_g = np.zeros(npix, np.float32)
        s_b = np.zeros(npix, np.float32)
        s_d = np.zeros(npix, np.float32)
        s_last = np.full(npix, start, np.int64)
        # bit x - x0 of row_live[y - y0]: the pixel is not saturated yet (tile width <= 64)
        row_live = np.full(th, _bits(0, tw), np.int64)
        active = npix
        for m in range(start, end):
            ylo = max(rows[m, 0], y0)
            yhi = min(rows[m, 1] + 1, y1)
            if ylo >= yhi:
                continue
            mx = packed[m, 0]
            my = packed[m, 1]
            ca = packed[m, 2]
            cb = packed[m, 3]
            cc = packed[m, 4]
            op = packed[m, 5]
            thr = packed[m, 6]
            c_r = packed[m, 7]
            c_g = packed[m, 8]
            c_b = packed[m, 9]
            z = packed[m, 10]
            n_comp = 0
            for y in range(ylo, yhi):
                live = row_live[y - y0]
                if live == 0:
                    continue
                py = np.float32(y) + _HALF
                lo, hi = _row_span(m, np.float64(py), x0, x1, packed, spans)
                if lo >= hi or (live & _bits(lo - x0, hi - lo)) == 0:
                    continue
                dy = my - py
                row = (y - y0) * tw - x0
                for x in range(lo, hi):
                    if (live >> np.int64(x - x0)) & np.int64(1) == 0:
                        continue
                    dx = mx - (np.float32(x) + _HALF)
                    sigma = _HALF * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                    if sigma < _ZERO or sigma > thr:
                        continue
                    alpha = min(_ALPHA_MAX, op * np.float32(math.exp(-sigma)))
                    if alpha < _ALPHA_MIN:
                        continue
                    i = row + x
                    trans = s_t[i]
                    next_trans = trans * (_ONE - alpha)
                    if next_trans < _T_MIN:
                        # 3DGS rule: the saturating Gaussian is not composited; the pixel is done
                        live &= ~(np.int64(1) << np.int64(x - x0))
                        active -= 1
                        continue
                    w = alpha * trans
                    s_r[i] += c_r * w
                    s_g[i] += c_g * w
                    s_b[i] += c_b * w
                    s_d[i] += z * w
                    s_t[i] = next_trans
                    s_last[i] = m + 1
                    n_comp += 1
                row_live[y - y0] = live
            counts_m[m] = n_comp
            if active == 0:
                break
        for y in range(y0, y1):
            for x in range(x0, x1):
                i = (y - y0) * tw + (x - x0)
                out_trans[cam, y, x] = s_t[i]
                out_color[cam, y, x, 0] = s_r[i]
                out_color[cam, y, x, 1] = s_g[i]
                out_color[cam, y, x, 2] = s_b[i]
                out_depth[cam, y, x] = s_d[i]
                out_last[cam, y, x] = s_last[i]


@numba.njit(cache=True, nogil=True, parallel=True)
def backward_tiles(
    packed: np.ndarray,
    spans: np.ndarray,
    rows: np.ndarray,
    tile_starts: np.ndarray,
    width: int,
    height: int,
    tile_size: int,
    tiles_x: int,
    tiles_y: int,
    trans_final: np.ndarray,
    last: np.ndarray,
    grad_color: np.ndarray,
    grad_alpha: np.ndarray,
    grad_depth: np.ndarray,
    grad_m: np.ndarray,
) -> None:
    """Back-to-front gradients of every tile (3DGS backward), per intersection.

    For a pixel with composited Gaussians i (front to back), weights w_i = alpha_i T_i, colour
    C = sum_i c_i w_i, depth D = sum_i z_i w_i and alpha A = 1 - T_final:
    dC/dalpha_i = c_i T_i - S_i / (1 - alpha_i) with S_i = sum_{j>i} c_j w_j (same for D), and
    dA/dalpha_i = T_final / (1 - alpha_i). T_i is recovered walking back: T_i = T_{i+1} / (1 - alpha_i).
    Each pixel walks back from its last composited intersection; as in the forward pass the
    Gaussians are the outer loop, and a Gaussian's gradient is summed in registers over its
    pixels in a fixed order, then written to its record once (deterministic).

    Args:
        packed: [M, PACK_WIDTH] float32 intersection records from `forward_tiles`.
        spans: [M, 4] float64 row-span coefficients from `forward_tiles`.
        rows: [M, 2] int64 row ranges from `forward_tiles`.
        tile_starts: [C*tiles_y*tiles_x + 1] int64 CSR offsets.
        width: W.
        height: H.
        tile_size: tile edge in pixels.
        tiles_x: tiles per row.
        tiles_y: tiles per column.
        trans_final: [C, H, W] float32 final transmittance from the forward pass.
        last: [C, H, W] int64 end of each pixel's composited range from the forward pass.
        grad_color: [C, H, W, 3] float32 dL/dcolour.
        grad_alpha: [C, H, W] float32 dL/dalpha.
        grad_depth: [C, H, W] float32 dL/ddepth.
        grad_m: [M, GRAD_WIDTH] float32, written: per-intersection gradients
            (d mx, d my, d a, d b, d c, d r, d g, d b, d opacity, d z).
    """
    tiles_per_cam = tiles_x * tiles_y
    num_tiles = tile_starts.shape[0] - 1
    for t in prange(num_tiles):
        cam = t // tiles_per_cam
        rem = t - cam * tiles_per_cam
        ty = rem // tiles_x
        tx = rem - ty * tiles_x
        start = tile_starts[t]
        end = tile_starts[t + 1]
        for m in range(start, end):
            for k in range(GRAD_WIDTH):
                grad_m[m, k] = _ZERO
        if end == start:
            continue
        x0 = tx * tile_size
        y0 = ty * tile_size
        x1 = min(x0 + tile_size, width)
        y1 = min(y0 + tile_size, height)
        tw = x1 - x0
        th = y1 - y0
        npix = tw * th
        # per-pixel state of the tile (row-major): T, S_r, S_g, S_b, S_d, dL/dalpha * T_final
        s_t = np.empty(npix, np.float32)
        s_r = np.zeros(npix, np.float32)
        s_g = np.zeros(npix, np.float32)
        s_b = np.zeros(npix, np.float32)
        s_d = np.zeros(npix, np.float32)
        s_ga = np.empty(npix, np.float32)
        s_last = np.empty(npix, np.int64)
        for y in range(y0, y1):
            for x in range(x0, x1):
                i = (y - y0) * tw + (x - x0)
                s_t[i] = trans_final[cam, y, x]
                s_ga[i] = grad_alpha[cam, y, x] * trans_final[cam, y, x]
                s_last[i] = last[cam, y, x]
        # Pixels join (bit x - x0 of row_live[y - y0]) as m drops below their last index.
        order = np.argsort(-s_last)
        row_live = np.zeros(th, np.int64)
        nxt = 0
        for m in range(s_last[order[0]] - 1, start - 1, -1):
            while nxt < npix and s_last[order[nxt]] > m:
                i = order[nxt]
                row_live[i // tw] |= np.int64(1) << np.int64(i % tw)
                nxt += 1
            ylo = max(rows[m, 0], y0)
            yhi = min(rows[m, 1] + 1, y1)
            if ylo >= yhi:
                continue
            mx = packed[m, 0]
            my = packed[m, 1]
            ca = packed[m, 2]
            cb = packed[m, 3]
            cc = packed[m, 4]
            op = packed[m, 5]
            thr = packed[m, 6]
            c_r = packed[m, 7]
            c_g = packed[m, 8]
            c_b = packed[m, 9]
            z = packed[m, 10]
            d_mx = _ZERO
            d_my = _ZERO
            d_a = _ZERO
            d_b = _ZERO
            d_c = _ZERO
            d_r = _ZERO
            d_g = _ZERO
            d_bl = _ZERO
            d_op = _ZERO
            d_z = _ZERO
            for y in range(ylo, yhi):
                live = row_live[y - y0]
                if live == 0:
                    continue
                py = np.float32(y) + _HALF
                lo, hi = _row_span(m, np.float64(py), x0, x1, packed, spans)
                if lo >= hi or (live & _bits(lo - x0, hi - lo)) == 0:
                    continue
                dy = my - py
                row = (y - y0) * tw - x0
                for x in range(lo, hi):
                    if (live >> np.int64(x - x0)) & np.int64(1) == 0:
                        continue
                    dx = mx - (np.float32(x) + _HALF)
                    sigma = _HALF * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                    if sigma < _ZERO or sigma > thr:
                        continue
                    gauss = np.float32(math.exp(-sigma))
                    raw = op * gauss
                    alpha = min(_ALPHA_MAX, raw)
                    if alpha < _ALPHA_MIN:
                        continue
                    i = row + x
                    g_r = grad_color[cam, y, x, 0]
                    g_g = grad_color[cam, y, x, 1]
                    g_b = grad_color[cam, y, x, 2]
                    g_d = grad_depth[cam, y, x]
                    inv = _ONE / (_ONE - alpha)
                    trans = s_t[i] * inv
                    s_t[i] = trans
                    w = alpha * trans
                    d_r += g_r * w
                    d_g += g_g * w
                    d_bl += g_b * w
                    d_z += g_d * w
                    sr = s_r[i]
                    sg = s_g[i]
                    sb = s_b[i]
                    sd = s_d[i]
                    d_alpha = (
                        g_r * (c_r * trans - sr * inv)
                        + g_g * (c_g * trans - sg * inv)
                        + g_b * (c_b * trans - sb * inv)
                        + g_d * (z * trans - sd * inv)
                        + s_ga[i] * inv
                    )
                    s_r[i] = sr + c_r * w
                    s_g[i] = sg + c_g * w
                    s_b[i] = sb + c_b * w
                    s_d[i] = sd + z * w
                    if raw < _ALPHA_MAX:  # the clamp at 0.99 passes no gradient
                        d_op += d_alpha * gauss
                        d_sigma = -d_alpha * alpha
                        d_mx += d_sigma * (ca * dx + cb * dy)
                        d_my += d_sigma * (cc * dy + cb * dx)
                        d_a += d_sigma * _HALF * dx * dx
                        d_b += d_sigma * dx * dy
                        d_c += d_sigma * _HALF * dy * dy
            grad_m[m, 0] = d_mx
            grad_m[m, 1] = d_my
            grad_m[m, 2] = d_a
            grad_m[m, 3] = d_b
            grad_m[m, 4] = d_c
            grad_m[m, 5] = d_r
            grad_m[m, 6] = d_g
            grad_m[m, 7] = d_bl
            grad_m[m, 8] = d_op
            grad_m[m, 9] = d_z


@numba.njit(cache=True, nogil=True)
def reduce_counts(
    tile_starts: np.ndarray,
    gaussian_ids: np.ndarray,
    num_gaussians: int,
    tiles_per_cam: int,
    counts_m: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Sum per-intersection pixel counts into per-Gaussian counts (Eq. 5).

    Args:
        tile_starts: [C*tiles_per_cam + 1] int64 CSR offsets.
        gaussian_ids: [M] int64.
        num_gaussians: N.
        tiles_per_cam: tiles of one camera.
        counts_m: [M] int32 per-intersection counts.
        counts: [C*N] int32, accumulated into (zero it first).
    """
    num_tiles = tile_starts.shape[0] - 1
    for t in range(num_tiles):
        base = (t // tiles_per_cam) * num_gaussians
        for m in range(tile_starts[t], tile_starts[t + 1]):
            counts[base + gaussian_ids[m]] += counts_m[m]


@numba.njit(cache=True, nogil=True)
def reduce_gradients(
    tile_starts: np.ndarray,
    gaussian_ids: np.ndarray,
    num_gaussians: int,
    tiles_per_cam: int,
    grad_m: np.ndarray,
    grad_means2d: np.ndarray,
    grad_conics: np.ndarray,
    grad_colors: np.ndarray,
    grad_opacities: np.ndarray,
    grad_depths: np.ndarray,
) -> None:
    """Sum per-intersection gradients into per-Gaussian gradients in intersection order.

    A fixed summation order makes the result bit-identical from run to run whatever the number
    of threads.

    Args:
        tile_starts: [C*tiles_per_cam + 1] int64 CSR offsets.
        gaussian_ids: [M] int64.
        num_gaussians: N.
        tiles_per_cam: tiles of one camera.
        grad_m: [M, GRAD_WIDTH] float32 from `backward_tiles`.
        grad_means2d: [C*N, 2] float32, accumulated into (zero it first).
        grad_conics: [C*N, 3] float32, accumulated into.
        grad_colors: [C*N, 3] float32, accumulated into.
        grad_opacities: [C*N] float32, accumulated into.
        grad_depths: [C*N] float32, accumulated into.
    """
    num_tiles = tile_starts.shape[0] - 1
    for t in range(num_tiles):
        base = (t // tiles_per_cam) * num_gaussians
        for m in range(tile_starts[t], tile_starts[t + 1]):
            g = base + gaussian_ids[m]
            grad_means2d[g, 0] += grad_m[m, 0]
            grad_means2d[g, 1] += grad_m[m, 1]
            grad_conics[g, 0] += grad_m[m, 2]
            grad_conics[g, 1] += grad_m[m, 3]
            grad_conics[g, 2] += grad_m[m, 4]
            grad_colors[g, 0] += grad_m[m, 5]
            grad_colors[g, 1] += grad_m[m, 6]
            grad_colors[g, 2] += grad_m[m, 7]
            grad_opacities[g] += grad_m[m, 8]
            grad_depths[g] += grad_m[m, 9]
