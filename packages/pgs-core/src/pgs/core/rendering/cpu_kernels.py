"""Compiled (numba) per-tile compositing kernels of the `cpu` rasterizer backend.

The kernels implement the compositing rules of the rasterizer contract (3DGS, Kerbl et al. 2023,
Eq. 3 alpha blending; pixel counts m_k^i of PGSTalker Eq. 5) over tiles binned by
`pgs.core.rendering.binning.bin_tiles`:

- `forward_tiles`: front-to-back per pixel, parallel over tiles (``prange``); each tile writes
  only its own pixels and its own range of the intersection list, so the result does not depend
  on thread scheduling. It stores, per pixel, the final transmittance and the end of the
  composited range of the tile list, which the backward pass walks back from.
- `backward_tiles`: back-to-front per pixel (as in 3DGS), recovering the transmittance before
  each Gaussian by division, writing per-intersection gradients into its tile's range of an
  ``[M, 10]`` buffer.
- `reduce_intersections`: sums per-intersection gradients and pixel counts into per-Gaussian
  arrays in a fixed (intersection) order: deterministic, no atomics.

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

#: Columns of the packed intersection record.
PACK_WIDTH = 12
#: Columns of the per-intersection gradient record: d means2d (2), d conic (3), d colour (3),
#: d opacity (1), d depth (1).
GRAD_WIDTH = 10


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
    counts_m: np.ndarray,
) -> None:
    """Front-to-back compositing of every tile of every camera.

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
            g = base + gaussian_ids[m]
            op = opacities[g]
            packed[m, 0] = means2d[g, 0]
            packed[m, 1] = means2d[g, 1]
            packed[m, 2] = conics[g, 0]
            packed[m, 3] = conics[g, 1]
            packed[m, 4] = conics[g, 2]
            packed[m, 5] = op
            if op * 255.0 >= 1.0:
                packed[m, 6] = np.float32(math.log(255.0 * op) + _SIGMA_MARGIN)
            else:
                packed[m, 6] = np.float32(-1.0)  # alpha < 1/255 everywhere: never composited
            packed[m, 7] = colors[g, 0]
            packed[m, 8] = colors[g, 1]
            packed[m, 9] = colors[g, 2]
            packed[m, 10] = depths[g]
            packed[m, 11] = _ZERO
            counts_m[m] = 0
        x0 = tx * tile_size
        y0 = ty * tile_size
        x1 = min(x0 + tile_size, width)
        y1 = min(y0 + tile_size, height)
        for y in range(y0, y1):
            py = np.float32(y) + _HALF
            for x in range(x0, x1):
                px = np.float32(x) + _HALF
                trans = _ONE
                acc_r = _ZERO
                acc_g = _ZERO
                acc_b = _ZERO
                acc_d = _ZERO
                last = start
                for m in range(start, end):
                    dx = packed[m, 0] - px
                    dy = packed[m, 1] - py
                    sigma = _HALF * (packed[m, 2] * dx * dx + packed[m, 4] * dy * dy) + packed[m, 3] * dx * dy
                    if sigma < _ZERO or sigma > packed[m, 6]:
                        continue
                    alpha = min(_ALPHA_MAX, packed[m, 5] * np.float32(math.exp(-sigma)))
                    if alpha < _ALPHA_MIN:
                        continue
                    next_trans = trans * (_ONE - alpha)
                    if next_trans < _T_MIN:
                        break  # 3DGS rule: the saturating Gaussian is not composited
                    w = alpha * trans
                    acc_r += packed[m, 7] * w
                    acc_g += packed[m, 8] * w
                    acc_b += packed[m, 9] * w
                    acc_d += packed[m, 10] * w
                    counts_m[m] += 1
                    trans = next_trans
                    last = m + 1
                out_color[cam, y, x, 0] = acc_r
                out_color[cam, y, x, 1] = acc_g
                out_color[cam, y, x, 2] = acc_b
                out_depth[cam, y, x] = acc_d
                out_trans[cam, y, x] = trans
                out_last[cam, y, x] = last


@numba.njit(cache=True, nogil=True, parallel=True)
def backward_tiles(
    packed: np.ndarray,
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

    Args:
        packed: [M, PACK_WIDTH] float32 intersection records from `forward_tiles`.
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
        for y in range(y0, y1):
            py = np.float32(y) + _HALF
            for x in range(x0, x1):
                px = np.float32(x) + _HALF
                t_final = trans_final[cam, y, x]
                trans = t_final
                g_r = grad_color[cam, y, x, 0]
                g_g = grad_color[cam, y, x, 1]
                g_b = grad_color[cam, y, x, 2]
                g_d = grad_depth[cam, y, x]
                g_a = grad_alpha[cam, y, x]
                g_tfin = g_a * t_final
                s_r = _ZERO
                s_g = _ZERO
                s_b = _ZERO
                s_d = _ZERO
                for m in range(last[cam, y, x] - 1, start - 1, -1):
                    dx = packed[m, 0] - px
                    dy = packed[m, 1] - py
                    conic_a = packed[m, 2]
                    conic_b = packed[m, 3]
                    conic_c = packed[m, 4]
                    sigma = _HALF * (conic_a * dx * dx + conic_c * dy * dy) + conic_b * dx * dy
                    if sigma < _ZERO or sigma > packed[m, 6]:
                        continue
                    gauss = np.float32(math.exp(-sigma))
                    raw = packed[m, 5] * gauss
                    alpha = min(_ALPHA_MAX, raw)
                    if alpha < _ALPHA_MIN:
                        continue
                    one_minus = _ONE - alpha
                    trans = trans / one_minus
                    w = alpha * trans
                    c_r = packed[m, 7]
                    c_g = packed[m, 8]
                    c_b = packed[m, 9]
                    z = packed[m, 10]
                    grad_m[m, 5] += g_r * w
                    grad_m[m, 6] += g_g * w
                    grad_m[m, 7] += g_b * w
                    grad_m[m, 9] += g_d * w
                    inv = _ONE / one_minus
                    d_alpha = (
                        g_r * (c_r * trans - s_r * inv)
                        + g_g * (c_g * trans - s_g * inv)
                        + g_b * (c_b * trans - s_b * inv)
                        + g_d * (z * trans - s_d * inv)
                        + g_tfin * inv
                    )
                    s_r += c_r * w
                    s_g += c_g * w
                    s_b += c_b * w
                    s_d += z * w
                    if raw < _ALPHA_MAX:  # the clamp at 0.99 passes no gradient
                        grad_m[m, 8] += d_alpha * gauss
                        d_sigma = -d_alpha * alpha
                        grad_m[m, 0] += d_sigma * (conic_a * dx + conic_b * dy)
                        grad_m[m, 1] += d_sigma * (conic_c * dy + conic_b * dx)
                        grad_m[m, 2] += d_sigma * _HALF * dx * dx
                        grad_m[m, 3] += d_sigma * dx * dy
                        grad_m[m, 4] += d_sigma * _HALF * dy * dy


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
