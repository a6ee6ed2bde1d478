"""Compiled (numba) per-tile compositing kernels of the `cpu` rasterizer backend.

The kernels implement the compositing rules of the rasterizer contract (3DGS, Kerbl et al. 2023,
Eq. 3 alpha blending; pixel counts m_k^i of PGSTalker Eq. 5) over tiles binned by
`pgs.core.rendering.binning.bin_tiles` (or the identical `binning_fast.bin_tiles_fast`):

- `forward_tiles`: front-to-back per pixel, parallel over tiles (``prange``); each tile writes
  only its own pixels and its own range of the intersection list, so the result does not depend
  on thread scheduling. It stores, per pixel, the final transmittance and the end of the
  composited range of the tile list, which the backward pass walks back from.
- `forward_tiles_inference`: the inference fast path of `forward_tiles` (bit-identical images):
  no intersection records, masks, per-pixel ends or counts, and empty tiles are not visited; a
  Gaussian's row spans are computed for all its rows at once (`_row_spans`, vectorised) and its
  chunk step (`_forward_chunk_inference`) stores nothing only training reads.
- `backward_tiles`: back-to-front per pixel (as in 3DGS), recovering the transmittance before
  each Gaussian by division, writing per-intersection gradients into its tile's range of an
  ``[M, 10]`` buffer.
- `reduce_counts`, `reduce_gradients`: sum per-intersection pixel counts and gradients into
  per-Gaussian arrays in a fixed (intersection) order: deterministic, no atomics.

Loop order and SIMD. Inside a tile the Gaussians are the outer loop (front to back, or back to
front in the backward pass), then the pixel rows the Gaussian's ellipse reaches, then the
8-pixel chunks of that row that overlap the ellipse sigma <= log(255 o) (a conservative span,
see `_pack`). A chunk is processed by a branch-free loop over its 8 pixels (`_forward_chunk`,
`_backward_chunk`) that LLVM vectorises: every rule of the contract (alpha < 1/255 skipped,
the saturating Gaussian not composited, pixels already done left alone) is a per-lane select,
so each pixel still sees its Gaussians in list order with the same float32 operations as a
per-pixel walk. What makes the loops vectorisable:

- one float32 state buffer per tile, laid out chunk by chunk and field by field
  (``[chunk, field, lane]``), indexed with unsigned integers: every access in a chunk loop is
  the same base pointer at a constant offset, so LLVM needs no aliasing checks, and numba emits
  no negative-index wrap-around;
- ``error_model="numpy"``: no ZeroDivisionError branch inside the loops;
- `_exp_neg`, a polynomial exp written with float32 arithmetic and a bit cast (within 1 ulp of
  the correctly rounded value; libm's ``expf`` is a call LLVM cannot vectorise).

The backward chunk sums its gradients over the 8 lanes with ``fastmath`` reassociation (the
tree order of the vector reduction, fixed at compile time), so gradients are bit-identical from
run to run but differ from a sequential sum by float32 rounding. Forward arithmetic is not
reassociated or contracted (only the exp polynomial uses FMA), so pixel counts agree with the
`torch` backend. The forward pass also records, per intersection, the chunks (or rows) where it
composited a pixel; the backward pass visits only those, as every gradient term is zero
elsewhere.

All arithmetic is float32 (constants are float32 so numba does not promote to float64) and the
kernels are compiled with ``cache=True``: the first call in a fresh environment compiles (tens
of seconds on 2 cores), later processes load the machine code from numba's on-disk cache.

Intersection record layout (``packed[m, :]``, one row per (camera, tile, Gaussian) entry):
``mx, my, a, b, c, opacity, sigma_max, r, g, b, z, 0``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

# float32 constants: a float64 Python literal would promote float32 arithmetic to float64.
_ZERO = np.float32(0.0)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ALPHA_MAX = np.float32(0.99)
_ALPHA_MIN = np.float32(1.0 / 255.0)
_T_MIN = np.float32(1e-4)
# sigma_max = log(255 * opacity) + margin: pairs with sigma above it have alpha < 1/255 for sure,
# so rows and columns beyond it are never visited; the exact test (alpha < 1/255) still decides.
_SIGMA_MARGIN = 1e-3
# Extra pixels on each side of a Gaussian's row span (float64 span arithmetic; conservative).
_SPAN_PAD = 0.01

#: Columns of the packed intersection record.
PACK_WIDTH = 12
#: Columns of the per-intersection gradient record: d means2d (2), d conic (3), d colour (3),
#: d opacity (1), d depth (1).
GRAD_WIDTH = 10
#: Pixels per SIMD chunk of a tile row.
LANES = 8
#: Longest tile list the kernels accept: list positions are kept as exact float32 integers.
MAX_TILE_LIST = 1 << 24
#: `forward_tiles` count rules (Eq. 5): composited pixels (T after the Gaussian >= 1e-4) ...
COUNT_PIXEL_GS = 1
#: ... or pixels where the transmittance before the Gaussian is >= 1e-4 (the paper's reading).
COUNT_PAPER = 2

# Field offsets (in floats) inside one chunk of the per-tile state buffers; unsigned, so numba
# emits no negative-index wrap-around and LLVM sees constant offsets from one pointer.
_FWD_FIELDS = 7  # T, r, g, b, depth, end of composited range, live
_BWD_FIELDS = 11  # T, S_r, S_g, S_b, S_d, dL/dA * T_final, dL/dr, dL/dg, dL/db, dL/dD, end of range
_O = tuple(np.uint64(k * LANES) for k in range(_BWD_FIELDS))
_O1, _O2, _O3, _O4, _O5, _O6, _O7, _O8, _O9, _O10 = _O[1:]
_ULANES = np.uint64(LANES)

# exp(x) = 2^n e^r, n = round(x / ln 2), r = x - n ln 2 (Cody-Waite split of ln 2), e^r from the
# cephes expf polynomial on |r| <= ln(2) / 2.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_EXP_MIN = np.float32(-87.0)  # 2^n stays a normal float32
_P0 = np.float32(1.9875691500e-4)
_P1 = np.float32(1.3981999507e-3)
_P2 = np.float32(8.3334519073e-3)
_P3 = np.float32(4.1665795894e-2)
_P4 = np.float32(1.6666665459e-1)
_P5 = np.float32(5.0000001201e-1)


@intrinsic
def _int32_bits_as_float32(typingctx, value):
    """Reinterpret the bits of an int32 as a float32 (an LLVM bitcast, vectorisable)."""
    signature = types.float32(types.int32)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

    return signature, codegen


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _exp_neg(sigma: float) -> float:
    """exp(-sigma) in float32, within 1 ulp for sigma <= 87 (flushes to ~1.6e-38 above).

    Negative sigma (never composited) is clamped to 0 so nothing overflows in masked lanes.
    """
    x = -sigma
    x = x if x > _EXP_MIN else _EXP_MIN
    x = x if x < _ZERO else _ZERO
    n = np.floor(x * _LOG2E + _HALF)
    r = x - n * _LN2_HI - n * _LN2_LO
    poly = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * (r * r) + r + _ONE
    return poly * _int32_bits_as_float32((np.int32(n) + np.int32(127)) << np.int32(23))


@numba.njit(cache=True, nogil=True, inline="always")
def _sigma(dx: float, dy: float, ca: float, cb: float, cc: float) -> float:
    """Gaussian exponent 0.5 d^T conic d for the offset d = (dx, dy), in the contract's float32 order."""
    return _HALF * (ca * dx * dx + cc * dy * dy) + cb * dx * dy


@numba.njit(cache=True, nogil=True, inline="always")
def _footprint(mx: float, my: float, ca: float, cb: float, cc: float, op: float) -> tuple:
    """Where a Gaussian can reach alpha >= 1/255: sigma_max, its pixel-row range and span coefficients.

    The pixels a Gaussian can composite into satisfy sigma <= sigma_max. For a conservative
    superset, the ellipse sigma <= s' with s' = sigma_max (1 + 1e-2) + 0.05 is intersected with
    each pixel row: with dy = my - (y + 0.5), the pixel columns x satisfy
    |x + 0.5 - mx - (b / a) dy| <= sqrt(2 s' / a - (det / a^2) dy^2), det = a c - b^2.
    The margins cover float32 rounding of sigma; the exact alpha test still decides per pixel.
    Ill-conditioned or non-positive-definite conics fall back to whole tile rows.

    Returns:
        (sigma_max float32 (-1: never composited), first row, last row, b / a, 2 s' / a,
        det / a^2, 1.0 for an ellipse span or 0.0 for whole tile rows).
    """
    if not op * 255.0 >= 1.0:  # also catches NaN: alpha < 1/255 everywhere, never composited
        return np.float32(-1.0), 1, 0, 0.0, 0.0, 0.0, 0.0
    thr = math.log(255.0 * np.float64(op)) + _SIGMA_MARGIN
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
        half_h = math.sqrt(2.0 * s_wide * a / det)  # row extent: cov_yy = a / det
        y = np.float64(my)
        first = math.ceil(y - half_h - 0.5 - _SPAN_PAD)
        last = math.floor(y + half_h - 0.5 + _SPAN_PAD)
        return np.float32(thr), first, last, b / a, 2.0 * s_wide / a, det / (a * a), 1.0
    return np.float32(thr), -(1 << 30), 1 << 30, 0.0, 0.0, 0.0, 0.0  # whole tile rows


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
    """Write intersection record `m` for Gaussian row `g`, with its row range and span coefficients (`_footprint`)."""
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
    rows[m, 2] = 0  # mask of the chunks (or rows) where the forward pass composites a pixel
    thr, first, last, s0, s1, s2, s3 = _footprint(means2d[g, 0], means2d[g, 1], ca, cb, cc, op)
    packed[m, 6] = thr
    rows[m, 0] = first
    rows[m, 1] = last
    spans[m, 0] = s0
    spans[m, 1] = s1
    spans[m, 2] = s2
    spans[m, 3] = s3


@numba.njit(cache=True, nogil=True, inline="always")
def _span_at(
    mx: float, my: float, s0: float, s1: float, s2: float, s3: float, py: float, x0: int, x1: int
) -> tuple[int, int]:
    """Half-open pixel column range of row centre `py` a `_footprint` (s0..s3) may cover, clipped to [x0, x1)."""
    if s3 == 0.0:
        return x0, x1
    dy = np.float64(my) - py
    disc = s1 - s2 * dy * dy
    if disc < 0.0:
        return x0, x0
    half_w = math.sqrt(disc)
    centre = np.float64(mx) + s0 * dy - 0.5
    lo = max(x0, math.ceil(centre - half_w - _SPAN_PAD))
    hi = min(x1, math.floor(centre + half_w + _SPAN_PAD) + 1)
    return lo, hi


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _row_spans(
    mx: float,
    my: float,
    s0: float,
    s1: float,
    s2: float,
    s3: float,
    ylo: int,
    yhi: int,
    x0: int,
    x1: int,
    lo_out: np.ndarray,
    hi_out: np.ndarray,
) -> None:
    """`_span_at` for every row ylo..yhi-1 at once, into ``lo_out[y - ylo]``, ``hi_out[y - ylo]`` (int32).

    The same float64 operations as `_span_at` (so the same spans), written branch-free and in
    float64 until the final conversion, so that LLVM vectorises the rows (sqrt, ceil and floor
    are SIMD instructions; a float64 to int64 conversion is not, on AVX2).
    """
    fx0 = np.float64(x0)
    fx1 = np.float64(x1)
    mxd = np.float64(mx)
    myd = np.float64(my)
    whole = s3 == 0.0
    for r in range(yhi - ylo):
        py = np.float64(np.float32(ylo + r) + _HALF)
        dy = myd - py
        disc = s1 - s2 * dy * dy
        half_w = math.sqrt(max(disc, 0.0))
        centre = mxd + s0 * dy - 0.5
        lo = max(fx0, np.ceil(centre - half_w - _SPAN_PAD))
        hi = min(fx1, np.floor(centre + half_w + _SPAN_PAD) + 1.0)
        empty = disc < 0.0
        lo = fx0 if whole or empty else lo
        hi = fx1 if whole else (fx0 if empty else hi)
        lo_out[r] = np.int32(lo)
        hi_out[r] = np.int32(max(hi, lo))


@numba.njit(cache=True, nogil=True, inline="always")
def _row_span(m: int, py: float, x0: int, x1: int, packed: np.ndarray, spans: np.ndarray) -> tuple[int, int]:
    """Half-open pixel column range of row centre `py` that intersection `m` may cover, clipped to [x0, x1)."""
    return _span_at(packed[m, 0], packed[m, 1], spans[m, 0], spans[m, 1], spans[m, 2], spans[m, 3], py, x0, x1)


@numba.njit(cache=True, nogil=True, inline="always")
def _bits(first: int, count: int) -> np.int64:
    """int64 with `count` bits set from bit `first` (first + count <= 64)."""
    if count >= 64:
        return np.int64(-1)
    return ((np.int64(1) << np.int64(count)) - np.int64(1)) << np.int64(first)


@numba.njit(cache=True, nogil=True, inline="always")
def _tile_box(t: int, tiles_per_cam: int, tiles_x: int, tile_size: int, width: int, height: int) -> tuple:
    """Camera and pixel box [x0, x1) x [y0, y1) of global tile index `t` (tiles row-major per camera)."""
    cam = t // tiles_per_cam
    rem = t - cam * tiles_per_cam
    ty = rem // tiles_x
    tx = rem - ty * tiles_x
    x0 = tx * tile_size
    y0 = ty * tile_size
    return cam, x0, y0, min(x0 + tile_size, width), min(y0 + tile_size, height)


@numba.njit(cache=True, nogil=True, inline="always")
def _record(packed: np.ndarray, m: int) -> tuple:
    """Fields of intersection record `m`: mx, my, conic a, b, c, opacity, r, g, b, depth."""
    return (
        packed[m, 0],
        packed[m, 1],
        packed[m, 2],
        packed[m, 3],
        packed[m, 4],
        packed[m, 5],
        packed[m, 7],
        packed[m, 8],
        packed[m, 9],
        packed[m, 10],
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _new_tile_state(tw: int, th: int) -> tuple:
    """A tile's forward state: (chunks per row, state buffer, live pixels per chunk, live pixels per row).

    The buffer is laid out [row, chunk, field, lane] with fields T, r, g, b, depth, end, live;
    T and live start at 1 for the tile's pixels, lanes past its right edge stay dead (live = 0).
    """
    chunks_per_row = (tw + LANES - 1) // LANES
    chunk_floats = _FWD_FIELDS * LANES
    state = np.zeros(th * chunks_per_row * chunk_floats, np.float32)
    chunk_live = np.zeros(th * chunks_per_row, np.int64)
    for yy in range(th):
        for xx in range(tw):
            chunk = yy * chunks_per_row + xx // LANES
            i = chunk * chunk_floats + xx % LANES
            state[i] = _ONE  # transmittance
            state[i + 6 * LANES] = _ONE  # live
            chunk_live[chunk] += 1
    return chunks_per_row, state, chunk_live, np.full(th, tw, np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def _write_tile(
    state: np.ndarray,
    chunks_per_row: int,
    cam: int,
    x0: int,
    y0: int,
    x1: int,
    y1: int,
    out_color: np.ndarray,
    out_depth: np.ndarray,
    out_trans: np.ndarray,
) -> None:
    """Copy a tile's final T, colour and depth from its state buffer into the images."""
    chunk_floats = _FWD_FIELDS * LANES
    for y in range(y0, y1):
        for x in range(x0, x1):
            i = ((y - y0) * chunks_per_row + (x - x0) // LANES) * chunk_floats + (x - x0) % LANES
            out_trans[cam, y, x] = state[i]
            out_color[cam, y, x, 0] = state[i + LANES]
            out_color[cam, y, x, 1] = state[i + 2 * LANES]
            out_color[cam, y, x, 2] = state[i + 3 * LANES]
            out_depth[cam, y, x] = state[i + 4 * LANES]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _forward_chunk(
    state: np.ndarray,
    base: np.uint64,
    px: float,
    dy: float,
    mx: float,
    ca: float,
    cb: float,
    cc: float,
    op: float,
    c_r: float,
    c_g: float,
    c_b: float,
    z: float,
    position: float,
) -> tuple[int, int]:
    """Composite one Gaussian into the 8 pixels of one chunk (branch-free, vectorised).

    Args:
        state: the tile's forward state buffer, chunk fields T, r, g, b, depth, end, live.
        base: offset of the chunk in `state`.
        px: centre x of the chunk's first pixel.
        dy: my - pixel centre y.
        mx: Gaussian centre x.
        ca: conic a.
        cb: conic b.
        cc: conic c.
        op: opacity.
        c_r: colour r.
        c_g: colour g.
        c_b: colour b.
        z: depth.
        position: one past the Gaussian's position in the tile list (float32).

    Returns:
        (pixels composited, pixels that saturated here).
    """
    composited = 0
    saturated = 0
    for j in range(_ULANES):
        i = base + j
        dx = mx - (px + np.float32(j))
        sigma = _sigma(dx, dy, ca, cb, cc)
        alpha = min(_ALPHA_MAX, op * _exp_neg(sigma))
        trans = state[i]
        live = state[i + _O6] != _ZERO
        passes = live & (sigma >= _ZERO) & (alpha >= _ALPHA_MIN)
        next_trans = trans * (_ONE - alpha)
        keeps = next_trans >= _T_MIN
        comp = passes & keeps
        sat = passes & (~keeps)  # 3DGS rule: the saturating Gaussian is not composited
        w = alpha * trans if comp else _ZERO
        state[i + _O1] = state[i + _O1] + c_r * w
        state[i + _O2] = state[i + _O2] + c_g * w
        state[i + _O3] = state[i + _O3] + c_b * w
        state[i + _O4] = state[i + _O4] + z * w
        state[i] = next_trans if comp else trans
        state[i + _O5] = position if comp else state[i + _O5]
        state[i + _O6] = _ZERO if sat else state[i + _O6]
        composited += np.int32(comp)
        saturated += np.int32(sat)
    return composited, saturated


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _forward_chunk_inference(
    state: np.ndarray,
    base: np.uint64,
    px: float,
    dy: float,
    mx: float,
    ca: float,
    cb: float,
    cc: float,
    op: float,
    c_r: float,
    c_g: float,
    c_b: float,
    z: float,
) -> int:
    """`_forward_chunk` without what only training reads (the end of the composited range, counts).

    The same float32 operations on T, colour, depth and liveness, so the same images.

    Returns:
        Pixels of the chunk that saturated here.
    """
    saturated = 0
    for j in range(_ULANES):
        i = base + j
        dx = mx - (px + np.float32(j))
        sigma = _sigma(dx, dy, ca, cb, cc)
        alpha = min(_ALPHA_MAX, op * _exp_neg(sigma))
        trans = state[i]
        live = state[i + _O6] != _ZERO
        passes = live & (sigma >= _ZERO) & (alpha >= _ALPHA_MIN)
        next_trans = trans * (_ONE - alpha)
        keeps = next_trans >= _T_MIN
        comp = passes & keeps
        sat = passes & (~keeps)  # 3DGS rule: the saturating Gaussian is not composited
        w = alpha * trans if comp else _ZERO
        state[i + _O1] = state[i + _O1] + c_r * w
        state[i + _O2] = state[i + _O2] + c_g * w
        state[i + _O3] = state[i + _O3] + c_b * w
        state[i + _O4] = state[i + _O4] + z * w
        state[i] = next_trans if comp else trans
        state[i + _O6] = _ZERO if sat else state[i + _O6]
        saturated += np.int32(sat)
    return saturated


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
    count_rule: int,
) -> None:
    """Front-to-back compositing of every tile of every camera (the training path).

    Each pixel sees its tile's list front to back exactly as the contract says; the Gaussians
    are the outer loop and each visits only the 8-pixel chunks its ellipse can reach in each row
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
        packed: [M, PACK_WIDTH] float32, written: the intersection records (reused by backward);
            records past the point where their tile saturated are left unwritten.
        spans: [M, 4] float64, written (same rows): row-span coefficients (reused by backward).
        rows: [M, 3] int64, written (same rows): first and last pixel row each intersection may
            cover, and a bit mask of where it composited a pixel: a bit per chunk (row-major)
            when the tile has at most 64 chunks (16-pixel tiles have 32), else a bit per row.
        counts_m: [M] int32, written: pixels of each intersection counted by `count_rule`.
        count_rule: Eq. 5 rule of `counts_m`: `COUNT_PIXEL_GS` (composited pixels: T after the
            Gaussian >= 1e-4) or `COUNT_PAPER` (T before it >= 1e-4: the composited pixels plus
            those the Gaussian saturates).
    """
    tiles_per_cam = tiles_x * tiles_y
    num_tiles = tile_starts.shape[0] - 1
    chunk_floats = _FWD_FIELDS * LANES
    count_saturating = count_rule == COUNT_PAPER
    for t in prange(num_tiles):
        cam, x0, y0, x1, y1 = _tile_box(t, tiles_per_cam, tiles_x, tile_size, width, height)
        start = tile_starts[t]
        end = tile_starts[t + 1]
        base = cam * num_gaussians
        if end == start:  # no Gaussian: the empty image, without a state buffer
            for y in range(y0, y1):
                for x in range(x0, x1):
                    out_trans[cam, y, x] = _ONE
                    out_color[cam, y, x, 0] = _ZERO
                    out_color[cam, y, x, 1] = _ZERO
                    out_color[cam, y, x, 2] = _ZERO
                    out_depth[cam, y, x] = _ZERO
                    out_last[cam, y, x] = start
            continue
        for m in range(start, end):
            counts_m[m] = 0  # stays 0 for intersections after the tile is saturated
        tw = x1 - x0
        th = y1 - y0
        chunks_per_row, state, chunk_live, row_live = _new_tile_state(tw, th)
        per_chunk = th * chunks_per_row <= 64  # the composited mask has a bit per chunk, else per row
        rows_active = th
        for m in range(start, end):
            # packed on first use: records after the tile saturates are never written (nor read)
            _pack(m, base + gaussian_ids[m], means2d, conics, colors, opacities, depths, packed, spans, rows)
            ylo = max(rows[m, 0], y0)
            yhi = min(rows[m, 1] + 1, y1)
            if ylo >= yhi:
                continue
            mx, my, ca, cb, cc, op, c_r, c_g, c_b, z = _record(packed, m)
            position = np.float32(m - start + 1)
            n_comp = 0
            n_counted = 0
            composited = np.int64(0)
            for y in range(ylo, yhi):
                yy = y - y0
                if row_live[yy] == 0:
                    continue
                py = np.float32(y) + _HALF
                lo, hi = _row_span(m, np.float64(py), x0, x1, packed, spans)
                if lo >= hi:
                    continue
                dy = my - py
                n_sat = 0
                row_comp = 0
                for k in range((lo - x0) // LANES, (hi - x0 + LANES - 1) // LANES):
                    chunk = yy * chunks_per_row + k
                    if chunk_live[chunk] == 0:
                        continue
                    px = np.float32(x0 + k * LANES) + _HALF
                    comp, sat = _forward_chunk(
                        state, np.uint64(chunk * chunk_floats), px, dy, mx, ca, cb, cc, op, c_r, c_g, c_b, z, position
                    )
                    row_comp += comp
                    n_sat += sat
                    chunk_live[chunk] -= sat
                    if comp and per_chunk:
                        composited |= np.int64(1) << np.int64(chunk)
                if row_comp:
                    n_comp += row_comp
                    if not per_chunk:
                        composited |= np.int64(1) << np.int64(yy)
                if n_sat:
                    # Eq. 5 as written: a live pixel's T before the Gaussian is >= 1e-4, so the
                    # Gaussian that saturates it counts under the paper's rule
                    if count_saturating:
                        n_counted += n_sat
                    row_live[yy] -= n_sat
                    if row_live[yy] == 0:
                        rows_active -= 1
            counts_m[m] = n_comp + n_counted
            rows[m, 2] = composited
            if rows_active == 0:
                break
        _write_tile(state, chunks_per_row, cam, x0, y0, x1, y1, out_color, out_depth, out_trans)
        for y in range(y0, y1):
            for x in range(x0, x1):
                i = ((y - y0) * chunks_per_row + (x - x0) // LANES) * chunk_floats + (x - x0) % LANES
                out_last[cam, y, x] = start + np.int64(state[i + 5 * LANES])


@numba.njit(cache=True, nogil=True, parallel=True)
def forward_tiles_inference(
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
) -> None:
    """The inference fast path of `forward_tiles`: the same images, nothing kept for a backward pass.

    The same front-to-back loop with the same float32 operations per pixel (so colour, depth
    and transmittance are bit-identical), minus what only training needs: no intersection
    records, row ranges or composited masks are written (each Gaussian's footprint lives in
    registers), no per-pixel end of range, no pixel counts; tiles without intersections are not
    visited at all (the caller pre-fills the outputs with an empty image).

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
        out_color: [C, H, W, 3] float32, zero-filled by the caller; written where tiles have Gaussians.
        out_depth: [C, H, W] float32, zero-filled by the caller; written likewise.
        out_trans: [C, H, W] float32, one-filled by the caller; written likewise.
    """
    tiles_per_cam = tiles_x * tiles_y
    num_tiles = tile_starts.shape[0] - 1
    chunk_floats = _FWD_FIELDS * LANES
    for t in prange(num_tiles):
        start = tile_starts[t]
        end = tile_starts[t + 1]
        if end == start:  # an empty tile: the pre-filled empty image is its result
            continue
        cam, x0, y0, x1, y1 = _tile_box(t, tiles_per_cam, tiles_x, tile_size, width, height)
        base = cam * num_gaussians
        tw = x1 - x0
        th = y1 - y0
        chunks_per_row, state, chunk_live, row_live = _new_tile_state(tw, th)
        rows_active = th
        span_lo = np.empty(th, np.int32)
        span_hi = np.empty(th, np.int32)
        for m in range(start, end):
            g = base + gaussian_ids[m]
            mx = means2d[g, 0]
            my = means2d[g, 1]
            ca = conics[g, 0]
            cb = conics[g, 1]
            cc = conics[g, 2]
            op = opacities[g]
            _thr, first, last, s0, s1, s2, s3 = _footprint(mx, my, ca, cb, cc, op)
            ylo = max(first, y0)
            yhi = min(last + 1, y1)
            if ylo >= yhi:
                continue
            c_r = colors[g, 0]
            c_g = colors[g, 1]
            c_b = colors[g, 2]
            z = depths[g]
            _row_spans(mx, my, s0, s1, s2, s3, ylo, yhi, x0, x1, span_lo, span_hi)
            for y in range(ylo, yhi):
                yy = y - y0
                if row_live[yy] == 0:
                    continue
                py = np.float32(y) + _HALF
                lo = np.int64(span_lo[y - ylo])
                hi = np.int64(span_hi[y - ylo])
                if lo >= hi:
                    continue
                dy = my - py
                n_sat = 0
                for k in range((lo - x0) // LANES, (hi - x0 + LANES - 1) // LANES):
                    chunk = yy * chunks_per_row + k
                    if chunk_live[chunk] == 0:
                        continue
                    px = np.float32(x0 + k * LANES) + _HALF
                    sat = _forward_chunk_inference(
                        state, np.uint64(chunk * chunk_floats), px, dy, mx, ca, cb, cc, op, c_r, c_g, c_b, z
                    )
                    n_sat += sat
                    chunk_live[chunk] -= sat
                if n_sat:
                    row_live[yy] -= n_sat
                    if row_live[yy] == 0:
                        rows_active -= 1
            if rows_active == 0:
                break
        _write_tile(state, chunks_per_row, cam, x0, y0, x1, y1, out_color, out_depth, out_trans)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _backward_chunk(
    state: np.ndarray,
    base: np.uint64,
    px: float,
    dy: float,
    mx: float,
    ca: float,
    cb: float,
    cc: float,
    op: float,
    c_r: float,
    c_g: float,
    c_b: float,
    z: float,
    position: float,
) -> tuple[float, float, float, float, float, float, float, float, float, float]:
    """Gradients of one Gaussian over the 8 pixels of one chunk (branch-free, vectorised).

    For a pixel with composited Gaussians i (front to back), weights w_i = alpha_i T_i, colour
    C = sum_i c_i w_i, depth D = sum_i z_i w_i and alpha A = 1 - T_final:
    dC/dalpha_i = c_i T_i - S_i / (1 - alpha_i) with S_i = sum_{j>i} c_j w_j (same for D), and
    dA/dalpha_i = T_final / (1 - alpha_i). T_i is recovered walking back: T_i = T_{i+1} / (1 - alpha_i).

    Args:
        state: the tile's backward state buffer, chunk fields T, S_r, S_g, S_b, S_d,
            dL/dA T_final, dL/dr, dL/dg, dL/db, dL/dD, end of composited range.
        base: offset of the chunk in `state`.
        px: centre x of the chunk's first pixel.
        dy: my - pixel centre y.
        mx: Gaussian centre x.
        ca: conic a.
        cb: conic b.
        cc: conic c.
        op: opacity.
        c_r: colour r.
        c_g: colour g.
        c_b: colour b.
        z: depth.
        position: one past the Gaussian's position in the tile list (float32).

    Returns:
        Sums over the chunk of d mx, d my, d a, d b, d c, d r, d g, d b, d opacity, d z.
    """
    # dy is the same for the whole chunk (one pixel row), so the conic and mean gradients need
    # only the sums of d_sigma, d_sigma dx and d_sigma dx^2 over the lanes (combined below).
    s_ds = _ZERO
    s_ds_dx = _ZERO
    s_ds_dx2 = _ZERO
    d_r = _ZERO
    d_g = _ZERO
    d_bl = _ZERO
    d_op = _ZERO
    d_z = _ZERO
    for j in range(_ULANES):
        i = base + j
        dx = mx - (px + np.float32(j))
        sigma = _sigma(dx, dy, ca, cb, cc)
        gauss = _exp_neg(sigma)
        raw = op * gauss
        alpha = min(_ALPHA_MAX, raw)
        # composited in the forward pass: before the pixel's end and past the alpha test
        comp = (state[i + _O10] >= position) & (sigma >= _ZERO) & (alpha >= _ALPHA_MIN)
        inv = _ONE / (_ONE - alpha)
        t_after = state[i]
        trans = t_after * inv
        w = alpha * trans if comp else _ZERO
        g_r = state[i + _O6]
        g_g = state[i + _O7]
        g_b = state[i + _O8]
        g_d = state[i + _O9]
        d_r += g_r * w
        d_g += g_g * w
        d_bl += g_b * w
        d_z += g_d * w
        s_r = state[i + _O1]
        s_g = state[i + _O2]
        s_b = state[i + _O3]
        s_d = state[i + _O4]
        d_alpha = (
            g_r * (c_r * trans - s_r * inv)
            + g_g * (c_g * trans - s_g * inv)
            + g_b * (c_b * trans - s_b * inv)
            + g_d * (z * trans - s_d * inv)
            + state[i + _O5] * inv
        )
        state[i + _O1] = s_r + c_r * w
        state[i + _O2] = s_g + c_g * w
        state[i + _O3] = s_b + c_b * w
        state[i + _O4] = s_d + z * w
        state[i] = trans if comp else t_after
        # the clamp at 0.99 passes no gradient
        d_alpha = d_alpha if comp & (raw < _ALPHA_MAX) else _ZERO
        d_op += d_alpha * gauss
        d_sigma = -d_alpha * alpha
        s_ds += d_sigma
        d_sigma_dx = d_sigma * dx
        s_ds_dx += d_sigma_dx
        s_ds_dx2 += d_sigma_dx * dx
    # d sigma / d mx = a dx + b dy, d sigma / d my = c dy + b dx, d sigma / d(a, b, c) = (dx^2 / 2, dx dy, dy^2 / 2)
    d_mx = ca * s_ds_dx + cb * dy * s_ds
    d_my = cc * dy * s_ds + cb * s_ds_dx
    d_a = _HALF * s_ds_dx2
    d_b = dy * s_ds_dx
    d_c = _HALF * dy * dy * s_ds
    return d_mx, d_my, d_a, d_b, d_c, d_r, d_g, d_bl, d_op, d_z


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

    Each pixel walks back from its last composited intersection (`_backward_chunk` has the
    formulas); as in the forward pass the Gaussians are the outer loop, and a Gaussian's
    gradient is summed over its chunks in a fixed order, then written to its record once
    (deterministic).

    Args:
        packed: [M, PACK_WIDTH] float32 intersection records from `forward_tiles`.
        spans: [M, 4] float64 row-span coefficients from `forward_tiles`.
        rows: [M, 3] int64 row ranges and composited-row masks from `forward_tiles`.
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
    chunk_floats = _BWD_FIELDS * LANES
    for t in prange(num_tiles):
        cam, x0, y0, x1, y1 = _tile_box(t, tiles_per_cam, tiles_x, tile_size, width, height)
        start = tile_starts[t]
        end = tile_starts[t + 1]
        for m in range(start, end):
            for k in range(GRAD_WIDTH):
                grad_m[m, k] = _ZERO
        if end == start:
            continue
        tw = x1 - x0
        th = y1 - y0
        chunks_per_row = (tw + LANES - 1) // LANES
        # [row, chunk, field, lane]; lanes past the right edge keep end 0 and never contribute
        state = np.zeros(th * chunks_per_row * chunk_floats, np.float32)
        chunk_end = np.zeros(th * chunks_per_row, np.int64)  # largest end of the chunk's pixels
        per_chunk = th * chunks_per_row <= 64  # as in `forward_tiles`
        row_bits = _bits(0, chunks_per_row) if per_chunk else np.int64(1)
        row_shift = chunks_per_row if per_chunk else 1
        tile_end = 0
        for y in range(y0, y1):
            for x in range(x0, x1):
                chunk = (y - y0) * chunks_per_row + (x - x0) // LANES
                i = chunk * chunk_floats + (x - x0) % LANES
                t_final = trans_final[cam, y, x]
                pixel_end = last[cam, y, x] - start
                state[i] = t_final
                state[i + 5 * LANES] = grad_alpha[cam, y, x] * t_final
                state[i + 6 * LANES] = grad_color[cam, y, x, 0]
                state[i + 7 * LANES] = grad_color[cam, y, x, 1]
                state[i + 8 * LANES] = grad_color[cam, y, x, 2]
                state[i + 9 * LANES] = grad_depth[cam, y, x]
                state[i + 10 * LANES] = np.float32(pixel_end)
                chunk_end[chunk] = max(chunk_end[chunk], pixel_end)
                tile_end = max(tile_end, pixel_end)
        for m in range(start + tile_end - 1, start - 1, -1):
            composited = rows[m, 2]
            if composited == 0:  # composited nothing here: every gradient term is zero
                continue
            ylo = max(rows[m, 0], y0)
            yhi = min(rows[m, 1] + 1, y1)
            rel = m - start + 1  # a pixel composited m only if its end >= rel
            position = np.float32(rel)
            mx, my, ca, cb, cc, op, c_r, c_g, c_b, z = _record(packed, m)
            g0 = _ZERO
            g1 = _ZERO
            g2 = _ZERO
            g3 = _ZERO
            g4 = _ZERO
            g5 = _ZERO
            g6 = _ZERO
            g7 = _ZERO
            g8 = _ZERO
            g9 = _ZERO
            for y in range(ylo, yhi):
                yy = y - y0
                if (composited >> np.int64(yy * row_shift)) & row_bits == 0:
                    continue
                py = np.float32(y) + _HALF
                lo, hi = _row_span(m, np.float64(py), x0, x1, packed, spans)
                if lo >= hi:
                    continue
                dy = my - py
                for k in range((lo - x0) // LANES, (hi - x0 + LANES - 1) // LANES):
                    chunk = yy * chunks_per_row + k
                    if chunk_end[chunk] < rel if not per_chunk else (composited >> np.int64(chunk)) & 1 == 0:
                        continue
                    px = np.float32(x0 + k * LANES) + _HALF
                    d = _backward_chunk(
                        state, np.uint64(chunk * chunk_floats), px, dy, mx, ca, cb, cc, op, c_r, c_g, c_b, z, position
                    )
                    g0 += d[0]
                    g1 += d[1]
                    g2 += d[2]
                    g3 += d[3]
                    g4 += d[4]
                    g5 += d[5]
                    g6 += d[6]
                    g7 += d[7]
                    g8 += d[8]
                    g9 += d[9]
            grad_m[m, 0] = g0
            grad_m[m, 1] = g1
            grad_m[m, 2] = g2
            grad_m[m, 3] = g3
            grad_m[m, 4] = g4
            grad_m[m, 5] = g5
            grad_m[m, 6] = g6
            grad_m[m, 7] = g7
            grad_m[m, 8] = g8
            grad_m[m, 9] = g9


@numba.njit(cache=True, nogil=True, parallel=True)
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
    num_cams = (tile_starts.shape[0] - 1) // tiles_per_cam
    for cam in prange(num_cams):  # cameras write disjoint Gaussian ranges; each sums in list order
        base = cam * num_gaussians
        for m in range(tile_starts[cam * tiles_per_cam], tile_starts[(cam + 1) * tiles_per_cam]):
            counts[base + gaussian_ids[m]] += counts_m[m]


@numba.njit(cache=True, nogil=True, parallel=True)
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
    of threads: cameras are summed in parallel, but each camera's Gaussians by one thread in
    intersection order.

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
    num_cams = (tile_starts.shape[0] - 1) // tiles_per_cam
    for cam in prange(num_cams):  # cameras write disjoint Gaussian ranges; each sums in list order
        base = cam * num_gaussians
        for m in range(tile_starts[cam * tiles_per_cam], tile_starts[(cam + 1) * tiles_per_cam]):
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
