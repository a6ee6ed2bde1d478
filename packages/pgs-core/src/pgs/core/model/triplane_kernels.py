"""Compiled (numba) tri-plane lookup and its backward pass, for CPU tensors.

The same arithmetic as the PyTorch reference (`pgs.core.model.triplane.triplane_reference`), one
point at a time instead of [N, levels] temporaries: per point, plane and level, the bilinear
interpolation of the four vertices around ``pos = u * scale_l + 0.5`` (torch-ngp ``gridencoder``,
``align_corners=False``), zero for a plane whose two inputs leave ``[-bound, bound]``.

Backward (the derivatives of the bilinear form ``f = (v00 (1-fb) + v01 fb)(1-fa) + (v10 (1-fb) +
v11 fb) fa``):

- ``dL/dv`` = g x the vertex's bilinear weight, summed over points in point order;
- ``dL/du_a`` = g x ``((v10 (1-fb) + v11 fb) - (v00 (1-fb) + v01 fb))`` x scale_l, and likewise for
  the plane's second axis; ``du/dx = 1 / (2 bound)``.

The forward runs points in parallel (``prange``; each point writes its own row). The backward cuts
the points into `chunk_count` (N) contiguous chunks, run in parallel, each summing its plane
gradient in point order into its own buffer; the buffers are then added in chunk order. The
chunking depends on N alone, so results are bit-identical from run to run and for any number of
threads. Measured at 2 threads, serial kernels were 14 % of a 256x256 stage-2 training step (20k
points). Callers hold `pgs.core.numba_lock.NUMBA_KERNEL_LOCK` around a call, as the rasterizer's
kernels do. Arithmetic stays in the inputs' dtype (float32 or float64; constants are cast to
it), so float32 values match the reference to rounding. Compiled with ``cache=True``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

#: Input axes of each plane (xy, yz, xz), as `pgs.core.model.triplane.PLANE_AXES`.
_AXES = np.array([[0, 1], [1, 2], [0, 2]], dtype=np.int64)
#: Points per chunk of the backward pass (each chunk sums its own plane gradient).
CHUNK_POINTS = 2048
#: Most chunks of the backward pass (plane-gradient buffers; a 20k-point face uses 8).
MAX_CHUNKS = 8


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _corner(u: float, scale: float, half: float, limit: int) -> tuple[int, int, float]:
    """Lower and upper vertex indices along one axis and the fractional position (clamped indices)."""
    pos = u * scale + half
    base = np.floor(pos)  # keeps the dtype (math.floor would give an int, and float64 arithmetic after it)
    frac = pos - base
    i0 = int(base)
    i0 = min(max(i0, 0), limit)
    i1 = min(i0 + 1, limit)
    return i0, i1, frac


@numba.njit(cache=True, nogil=True, inline="always")
def _cell(
    u: np.ndarray, i: int, p: int, level: int, scales: np.ndarray, sides: np.ndarray, offsets: np.ndarray,
    half: float,
) -> tuple[int, int, int, int, float, float]:
    """Point `i`'s cell in plane `p` at `level`: row starts r0, r1, columns b0, b1, fractions fa, fb."""
    side = sides[level]
    a0, a1, fa = _corner(u[i, _AXES[p, 0]], scales[level], half, side - 1)
    b0, b1, fb = _corner(u[i, _AXES[p, 1]], scales[level], half, side - 1)
    return offsets[level] + a0 * side, offsets[level] + a1 * side, b0, b1, fa, fb


@numba.njit(cache=True, nogil=True, inline="always")
def _forward_point(
    i: int, u: np.ndarray, inside: np.ndarray, planes: np.ndarray, scales: np.ndarray, sides: np.ndarray,
    offsets: np.ndarray, one: float, half: float, out: np.ndarray,
) -> None:
    """Features of point `i` in every plane and level, written to ``out[i]``."""
    levels = scales.shape[0]
    for p in range(3):
        mask = inside[i, _AXES[p, 0]] * inside[i, _AXES[p, 1]]
        if mask == 0:
            continue
        for level in range(levels):
            r0, r1, b0, b1, fa, fb = _cell(u, i, p, level, scales, sides, offsets, half)
            lower = planes[p, r0 + b0] * (one - fb) + planes[p, r0 + b1] * fb
            upper = planes[p, r1 + b0] * (one - fb) + planes[p, r1 + b1] * fb
            out[i, p * levels + level] = (lower * (one - fa) + upper * fa) * mask


@numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def triplane_forward(
    u: np.ndarray,
    inside: np.ndarray,
    planes: np.ndarray,
    scales: np.ndarray,
    sides: np.ndarray,
    offsets: np.ndarray,
    consts: np.ndarray,
) -> np.ndarray:
    """Bilinear lookup of every point in every plane and level (points in parallel).

    Args:
        u: [N, 3] normalised positions ``(x + bound) / (2 bound)``.
        inside: [N, 3] 1 where ``0 <= u <= 1``, else 0 (same dtype as `u`).
        planes: [3, V] vertex values, levels flattened one after the other.
        scales: [L] ``base * s**l - 1`` (same dtype as `u`).
        sides: [L] vertices per side of each level.
        offsets: [L] first vertex of each level in a plane row.
        consts: [2] ``(1, 0.5)`` in the dtype of `u` (typed constants: a Python literal would
            promote float32 arithmetic to float64).

    Returns:
        [N, 3 * L] features (xy levels, yz levels, xz levels).
    """
    n = u.shape[0]
    out = np.zeros((n, 3 * scales.shape[0]), dtype=u.dtype)
    for i in prange(n):
        _forward_point(i, u, inside, planes, scales, sides, offsets, consts[0], consts[1], out)
    return out


def chunk_count(n: int) -> int:
    """Point chunks of the backward pass: one per `CHUNK_POINTS` points, at most `MAX_CHUNKS`.

    A function of N alone, so gradients do not depend on the number of threads.
    """
    return max(1, min(MAX_CHUNKS, n // CHUNK_POINTS))


@numba.njit(cache=True, nogil=True, inline="always")
def _backward_point(
    i: int, grad: np.ndarray, u: np.ndarray, inside: np.ndarray, planes: np.ndarray, scales: np.ndarray,
    sides: np.ndarray, offsets: np.ndarray, one: float, half: float, need_planes: bool, need_u: bool,
    d_planes: np.ndarray, d_u: np.ndarray,
) -> None:
    """Add point `i`'s contributions to `d_planes` [3, V] and write its row of `d_u`."""
    levels = scales.shape[0]
    for p in range(3):
        mask = inside[i, _AXES[p, 0]] * inside[i, _AXES[p, 1]]
        if mask == 0:
            continue
        for level in range(levels):
            g = grad[i, p * levels + level] * mask
            if g == 0:
                continue
            r0, r1, b0, b1, fa, fb = _cell(u, i, p, level, scales, sides, offsets, half)
            if need_planes:
                d_planes[p, r0 + b0] += g * ((one - fa) * (one - fb))
                d_planes[p, r0 + b1] += g * ((one - fa) * fb)
                d_planes[p, r1 + b0] += g * (fa * (one - fb))
                d_planes[p, r1 + b1] += g * (fa * fb)
            if need_u:
                v00, v01 = planes[p, r0 + b0], planes[p, r0 + b1]
                v10, v11 = planes[p, r1 + b0], planes[p, r1 + b1]
                d_fa = (v10 * (one - fb) + v11 * fb) - (v00 * (one - fb) + v01 * fb)
                d_fb = (one - fa) * (v01 - v00) + fa * (v11 - v10)
                d_u[i, _AXES[p, 0]] += g * d_fa * scales[level]
                d_u[i, _AXES[p, 1]] += g * d_fb * scales[level]


@numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def triplane_backward(
    grad: np.ndarray,
    u: np.ndarray,
    inside: np.ndarray,
    planes: np.ndarray,
    scales: np.ndarray,
    sides: np.ndarray,
    offsets: np.ndarray,
    consts: np.ndarray,
    need_planes: bool,
    need_u: bool,
    chunks: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of `triplane_forward` with respect to the planes and to `u`.

    The points are cut into `chunks` contiguous chunks, run in parallel; each sums its plane
    gradient in point order into its own buffer, and the buffers are added in chunk order.

    Args:
        grad: [N, 3 * L] incoming gradient.
        u: [N, 3] as `triplane_forward`.
        inside: [N, 3] as `triplane_forward`.
        planes: [3, V] as `triplane_forward`.
        scales: [L] as `triplane_forward`.
        sides: [L] as `triplane_forward`.
        offsets: [L] as `triplane_forward`.
        consts: [2] as `triplane_forward`.
        need_planes: compute the plane gradient (else it stays zero).
        need_u: compute the gradient of `u` (else it stays zero).
        chunks: number of point chunks (`chunk_count`).

    Returns:
        ([3, V] plane gradient, [N, 3] gradient of `u`).
    """
    n = u.shape[0]
    buffers = np.zeros((chunks, planes.shape[0], planes.shape[1]), dtype=planes.dtype)
    d_u = np.zeros(u.shape, dtype=u.dtype)
    for c in prange(chunks):
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            _backward_point(
                i, grad, u, inside, planes, scales, sides, offsets, consts[0], consts[1], need_planes, need_u,
                buffers[c], d_u,
            )
    d_planes = buffers[0].copy()
    for k in range(1, chunks):
        d_planes += buffers[k]
    return d_planes, d_u


__all__ = ["CHUNK_POINTS", "MAX_CHUNKS", "chunk_count", "triplane_backward", "triplane_forward"]
