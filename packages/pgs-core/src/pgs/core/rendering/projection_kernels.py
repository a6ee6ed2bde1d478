"""Compiled (numba) projection of the `cpu` backend, forward and backward.

`project_cpu` returns the `Projection` of `projection.project` (EWA splatting with the
3DGS/gsplat conventions: the 1.3x field-of-view clamp of the Jacobian, the ``eps2d`` low-pass,
the 1/255 screen radius, the near/far cull and the real SH basis of `sh`) in one parallel pass
over the Gaussians instead of the dozens of [C, N] PyTorch operations (and their autograd
records) of `projection.project`. When autograd records the call, a `torch.autograd.Function`
runs the forward kernel and, in the backward pass, a kernel that recomputes each Gaussian's
intermediates and applies the chain rule by hand (written out below, step by step), giving the
gradients of the means, quaternions, log-scales, opacity logits and SH coefficients.
20k Gaussians with SH degree 2 on 2 cores: 1.6-1.7 ms forward (PyTorch 4.1-4.2 ms), 4.8-5.0 ms
forward + backward (PyTorch 12-20 ms); `benchmarks/bench_projection.py`.

Each Gaussian is computed in float64 and written in the inputs' dtype; each Gaussian's values
depend on its own parameters only, and its gradients are written to its own rows (no atomics,
deterministic for any thread count). PyTorch's float32 path rounds every intermediate to
float32 and uses other exp/log implementations, so the two agree to float32 rounding rather
than bit for bit (tested; float64 inputs agree to 1e-9): a screen radius whose exact value lies
within rounding of an integer may differ by one pixel (a ring where alpha is below 1/255
anyway), and a pixel whose alpha lies within rounding of the 1/255 cut-off may be composited by
one path and not the other. Gradients follow PyTorch's conventions at the kinks: the clamps of
the Jacobian, the determinant and the colour pass the gradient where the value is inside (or on)
the bound, and a Gaussian outside (near, far) sends none through its depth divisor.

Camera matrices are constants here: a render whose cameras require gradients takes
`projection.project` (see `project_cpu`).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.errors import RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.numba_lock import NUMBA_KERNEL_LOCK
from pgs.core.rendering.projection import Projection, project
from pgs.core.rendering.sh import C0, C1, C2, C3

_C2_0, _C2_1, _C2_2, _C2_3, _C2_4 = C2
_C3_0, _C3_1, _C3_2, _C3_3, _C3_4, _C3_5, _C3_6 = C3
#: Gaussians per parallel chunk (each chunk allocates its SH scratch once).
_CHUNK = 512


@numba.njit(cache=True, nogil=True)
def _sh_basis(
    degree: int, x: float, y: float, z: float, Y: np.ndarray, dx: np.ndarray, dy: np.ndarray, dz: np.ndarray
) -> None:
    """Real SH basis Y[:(degree + 1)^2] at the unit direction (x, y, z) (`sh.sh_basis`) and its partials."""
    Y[0], dx[0], dy[0], dz[0] = C0, 0.0, 0.0, 0.0
    if degree == 0:
        return
    Y[1], dx[1], dy[1], dz[1] = -C1 * y, 0.0, -C1, 0.0
    Y[2], dx[2], dy[2], dz[2] = C1 * z, 0.0, 0.0, C1
    Y[3], dx[3], dy[3], dz[3] = -C1 * x, -C1, 0.0, 0.0
    if degree == 1:
        return
    xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
    Y[4], dx[4], dy[4], dz[4] = _C2_0 * xy, _C2_0 * y, _C2_0 * x, 0.0
    Y[5], dx[5], dy[5], dz[5] = _C2_1 * yz, 0.0, _C2_1 * z, _C2_1 * y
    Y[6], dx[6], dy[6], dz[6] = _C2_2 * (2.0 * zz - xx - yy), -2.0 * _C2_2 * x, -2.0 * _C2_2 * y, 4.0 * _C2_2 * z
    Y[7], dx[7], dy[7], dz[7] = _C2_3 * xz, _C2_3 * z, 0.0, _C2_3 * x
    Y[8], dx[8], dy[8], dz[8] = _C2_4 * (xx - yy), 2.0 * _C2_4 * x, -2.0 * _C2_4 * y, 0.0
    if degree == 2:
        return
    Y[9], dx[9], dy[9], dz[9] = _C3_0 * y * (3.0 * xx - yy), 6.0 * _C3_0 * xy, _C3_0 * (3.0 * xx - 3.0 * yy), 0.0
    Y[10], dx[10], dy[10], dz[10] = _C3_1 * xy * z, _C3_1 * yz, _C3_1 * xz, _C3_1 * xy
    Y[11] = _C3_2 * y * (4.0 * zz - xx - yy)
    dx[11], dy[11], dz[11] = -2.0 * _C3_2 * xy, _C3_2 * (4.0 * zz - xx - 3.0 * yy), 8.0 * _C3_2 * yz
    Y[12] = _C3_3 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy)
    dx[12], dy[12], dz[12] = -6.0 * _C3_3 * xz, -6.0 * _C3_3 * yz, _C3_3 * (6.0 * zz - 3.0 * xx - 3.0 * yy)
    Y[13] = _C3_4 * x * (4.0 * zz - xx - yy)
    dx[13], dy[13], dz[13] = _C3_4 * (4.0 * zz - 3.0 * xx - yy), -2.0 * _C3_4 * xy, 8.0 * _C3_4 * xz
    Y[14], dx[14], dy[14], dz[14] = _C3_5 * z * (xx - yy), 2.0 * _C3_5 * xz, -2.0 * _C3_5 * yz, _C3_5 * (xx - yy)
    Y[15], dx[15], dy[15], dz[15] = _C3_6 * x * (xx - 3.0 * yy), _C3_6 * (3.0 * xx - 3.0 * yy), -6.0 * _C3_6 * xy, 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _view_basis(
    degree: int, px: float, py: float, pz: float, centre: np.ndarray, Y: np.ndarray, dx: np.ndarray,
    dy: np.ndarray, dz: np.ndarray,
) -> tuple:
    """SH basis (and partials) of the view direction from `centre` to p, d = dir / max(|dir|, 1e-12).

    Returns:
        (d_x, d_y, d_z, max(|dir|, 1e-12)); degree 0 reads no direction: (0, 0, 0, 1).
    """
    if degree == 0:
        Y[0] = C0
        return 0.0, 0.0, 0.0, 1.0
    ex, ey, ez = px - centre[0], py - centre[1], pz - centre[2]
    dn = max(math.sqrt(ex * ex + ey * ey + ez * ez), 1e-12)
    ex, ey, ez = ex / dn, ey / dn, ez / dn
    _sh_basis(degree, ex, ey, ez, Y, dx, dy, dz)
    return ex, ey, ez, dn


@numba.njit(cache=True, nogil=True, inline="always")
def _sh_sum(Y: np.ndarray, sh: np.ndarray, i: int, ch: int, k: int) -> float:
    """sum_{j < k} Y_j sh[i, j, ch]: the colour of channel ch before the +0.5 offset and clamp."""
    acc = 0.0
    for j in range(k):
        acc += Y[j] * sh[i, j, ch]
    return acc


@numba.njit(cache=True, nogil=True, inline="always")
def _rotation(qw: float, qx: float, qy: float, qz: float) -> tuple:
    """(w, x, y, z, |q|) of the normalised quaternion (F.normalize: q / max(|q|, 1e-12)) and R's 9 entries."""
    qn = max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12)
    w, x, y, z = qw / qn, qx / qn, qy / qn, qz / qn
    return (
        w, x, y, z, qn,
        1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y),
        2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x),
        2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y),
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _covariance(quats: np.ndarray, log_scales: np.ndarray, i: int) -> tuple:
    """Gaussian i's unit quaternion and |q| (5), R (9), scales (3), M = R S (9) and Sigma = M M^T (6)."""
    rot = _rotation(float(quats[i, 0]), float(quats[i, 1]), float(quats[i, 2]), float(quats[i, 3]))
    r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot[5:]
    sx, sy, sz = math.exp(log_scales[i, 0]), math.exp(log_scales[i, 1]), math.exp(log_scales[i, 2])
    m00, m01, m02 = r00 * sx, r01 * sy, r02 * sz
    m10, m11, m12 = r10 * sx, r11 * sy, r12 * sz
    m20, m21, m22 = r20 * sx, r21 * sy, r22 * sz
    s00 = m00 * m00 + m01 * m01 + m02 * m02
    s01 = m00 * m10 + m01 * m11 + m02 * m12
    s02 = m00 * m20 + m01 * m21 + m02 * m22
    s11 = m10 * m10 + m11 * m11 + m12 * m12
    s12 = m10 * m20 + m11 * m21 + m12 * m22
    s22 = m20 * m20 + m21 * m21 + m22 * m22
    return (
        *rot, sx, sy, sz, m00, m01, m02, m10, m11, m12, m20, m21, m22, s00, s01, s02, s11, s12, s22,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _ewa(
    vm: np.ndarray, K: np.ndarray, c: int, p: tuple, sigma: tuple, width: int, height: int,
    near: float, far: float, eps2d: float,
) -> tuple:
    """Camera c's EWA terms of a centre p and world covariance sigma (s00, s01, s02, s11, s12, s22).

    Returns (t, depth_ok, z, r, cr, lim, j, T, U, cov2d): the camera-space centre (tx, ty, tz),
    the depth test, the divisor z, x/z and y/z before and after the field-of-view clamp, the clamp
    limits (xp, xn, yp, yn), the Jacobian (j00, j02, j11, j12), the rows t0, t1 of T = J W, the
    rows Sigma t0, Sigma t1, and (a, b, c, det_raw) of cov2d = T Sigma T^T + eps2d I.
    """
    px, py, pz = p
    s00, s01, s02, s11, s12, s22 = sigma
    tx = vm[c, 0, 0] * px + vm[c, 0, 1] * py + vm[c, 0, 2] * pz + vm[c, 0, 3]
    ty = vm[c, 1, 0] * px + vm[c, 1, 1] * py + vm[c, 1, 2] * pz + vm[c, 1, 3]
    tz = vm[c, 2, 0] * px + vm[c, 2, 1] * py + vm[c, 2, 2] * pz + vm[c, 2, 3]
    fx, fy, cx, cy = K[c, 0, 0], K[c, 1, 1], K[c, 0, 2], K[c, 1, 2]
    depth_ok = near < tz < far
    z = tz if depth_ok else 1.0
    # x/z and y/z clamped to 1.3x the field of view (3DGS/gsplat)
    lim_xp, lim_xn = (width - cx) / fx + 0.15 * width / fx, cx / fx + 0.15 * width / fx
    lim_yp, lim_yn = (height - cy) / fy + 0.15 * height / fy, cy / fy + 0.15 * height / fy
    rx, ry = tx / z, ty / z
    crx, cry = max(min(rx, lim_xp), -lim_xn), max(min(ry, lim_yp), -lim_yn)
    j00, j02 = fx / z, -fx * (z * crx) / (z * z)
    j11, j12 = fy / z, -fy * (z * cry) / (z * z)
    t00 = j00 * vm[c, 0, 0] + j02 * vm[c, 2, 0]
    t01 = j00 * vm[c, 0, 1] + j02 * vm[c, 2, 1]
    t02 = j00 * vm[c, 0, 2] + j02 * vm[c, 2, 2]
    t10 = j11 * vm[c, 1, 0] + j12 * vm[c, 2, 0]
    t11 = j11 * vm[c, 1, 1] + j12 * vm[c, 2, 1]
    t12 = j11 * vm[c, 1, 2] + j12 * vm[c, 2, 2]
    u00 = s00 * t00 + s01 * t01 + s02 * t02
    u01 = s01 * t00 + s11 * t01 + s12 * t02
    u02 = s02 * t00 + s12 * t01 + s22 * t02
    u10 = s00 * t10 + s01 * t11 + s02 * t12
    u11 = s01 * t10 + s11 * t11 + s12 * t12
    u12 = s02 * t10 + s12 * t11 + s22 * t12
    a = t00 * u00 + t01 * u01 + t02 * u02 + eps2d
    b = t10 * u00 + t11 * u01 + t12 * u02
    cc = t10 * u10 + t11 * u11 + t12 * u12 + eps2d
    return (
        (tx, ty, tz), depth_ok, z, (rx, ry), (crx, cry), (lim_xp, lim_xn, lim_yp, lim_yn),
        (j00, j02, j11, j12), (t00, t01, t02, t10, t11, t12), (u00, u01, u02, u10, u11, u12),
        (a, b, cc, a * cc - b * b),
    )  # fmt: skip


@numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _forward_kernel(
    means: np.ndarray,
    quats: np.ndarray,
    log_scales: np.ndarray,
    logits: np.ndarray,
    sh: np.ndarray,
    viewmats: np.ndarray,
    Ks: np.ndarray,
    centres: np.ndarray,
    width: int,
    height: int,
    near: float,
    far: float,
    eps2d: float,
    degree: int,
    means2d: np.ndarray,
    conics: np.ndarray,
    depths: np.ndarray,
    radii: np.ndarray,
    colors: np.ndarray,
    opacities: np.ndarray,
) -> None:
    """Fill the [C, N, ...] outputs for N Gaussians and C cameras (float64 arithmetic)."""
    n_gauss = means.shape[0]
    n_cams = viewmats.shape[0]
    k = (degree + 1) * (degree + 1)
    for chunk in prange((n_gauss + _CHUNK - 1) // _CHUNK):
        Y, dYx, dYy, dYz = np.empty(16), np.empty(16), np.empty(16), np.empty(16)
        for i in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, n_gauss)):
            sigma = _covariance(quats, log_scales, i)[26:32]
            opac = 1.0 / (1.0 + math.exp(-float(logits[i])))
            extent2 = 2.0 * math.log(max(opac * 255.0, 1.0))
            px, py, pz = float(means[i, 0]), float(means[i, 1]), float(means[i, 2])
            for c in range(n_cams):
                opacities[c, i] = opac
                t, depth_ok, z, _, _, _, _, _, _, cov = _ewa(
                    viewmats, Ks, c, (px, py, pz), sigma, width, height, near, far, eps2d
                )
                tx, ty, tz = t
                a, b, cc, det_raw = cov
                det = max(det_raw, 1e-10)
                conics[c, i, 0] = cc / det
                conics[c, i, 1] = -b / det
                conics[c, i, 2] = a / det
                u = Ks[c, 0, 0] * tx + Ks[c, 0, 1] * ty + Ks[c, 0, 2] * tz
                v = Ks[c, 1, 0] * tx + Ks[c, 1, 1] * ty + Ks[c, 1, 2] * tz
                mx, my = u / z, v / z
                means2d[c, i, 0] = mx
                means2d[c, i, 1] = my
                depths[c, i] = tz
                # radius enclosing alpha >= 1/255 (`projection.screen_radius`)
                lam = 0.5 * (a + cc) + math.sqrt(max(0.25 * (a - cc) ** 2 + b * b, 0.0))
                r = math.ceil(math.sqrt(max(extent2 * lam, 0.0)))
                inside = mx + r > 0 and mx - r < width and my + r > 0 and my - r < height
                radii[c, i] = int(r) if (depth_ok and det_raw > 0 and r > 0 and inside) else 0
                # view-dependent colour: clamp_min(sum_k sh_k Y_k(dir) + 0.5, 0) (`sh.sh_to_color`)
                _view_basis(degree, px, py, pz, centres[c], Y, dYx, dYy, dYz)
                for ch in range(3):
                    colors[c, i, ch] = max(_sh_sum(Y, sh, i, ch, k) + 0.5, 0.0)


@numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _backward_kernel(
    means: np.ndarray,
    quats: np.ndarray,
    log_scales: np.ndarray,
    logits: np.ndarray,
    sh: np.ndarray,
    viewmats: np.ndarray,
    Ks: np.ndarray,
    centres: np.ndarray,
    width: int,
    height: int,
    near: float,
    far: float,
    eps2d: float,
    degree: int,
    g_means2d: np.ndarray,
    g_conics: np.ndarray,
    g_depths: np.ndarray,
    g_colors: np.ndarray,
    g_opacities: np.ndarray,
    d_means: np.ndarray,
    d_quats: np.ndarray,
    d_log_scales: np.ndarray,
    d_logits: np.ndarray,
    d_sh: np.ndarray,
) -> None:
    """Gradients of the inputs from the outputs' gradients; every intermediate is recomputed."""
    n_gauss = means.shape[0]
    n_cams = viewmats.shape[0]
    k = (degree + 1) * (degree + 1)
    for chunk in prange((n_gauss + _CHUNK - 1) // _CHUNK):
        Y, dYx, dYy, dYz = np.empty(16), np.empty(16), np.empty(16), np.empty(16)
        for i in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, n_gauss)):
            gauss = _covariance(quats, log_scales, i)
            qw, qx, qy, qz, qn = gauss[:5]
            r00, r01, r02, r10, r11, r12, r20, r21, r22 = gauss[5:14]
            sx, sy, sz = gauss[14:17]
            m00, m01, m02, m10, m11, m12, m20, m21, m22 = gauss[17:26]
            sigma = gauss[26:32]
            opac = 1.0 / (1.0 + math.exp(-float(logits[i])))
            px, py, pz = float(means[i, 0]), float(means[i, 1]), float(means[i, 2])
            # accumulators over cameras: d loss / d (p, Sigma as a full 3x3 matrix, opacity)
            dpx, dpy, dpz = 0.0, 0.0, 0.0
            g00, g01, g02, g10, g11, g12, g20, g21, g22 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            d_opac = 0.0
            for c in range(n_cams):
                d_opac += g_opacities[c, i]
                t, depth_ok, z, r, cr, lim, _, tt, uu, cov = _ewa(
                    viewmats, Ks, c, (px, py, pz), sigma, width, height, near, far, eps2d
                )
                tx, ty, tz = t
                rx, ry = r
                crx, cry = cr
                lim_xp, lim_xn, lim_yp, lim_yn = lim
                t00, t01, t02, t10, t11, t12 = tt
                u00, u01, u02, u10, u11, u12 = uu
                a, b, cc, det_raw = cov
                fx, fy = Ks[c, 0, 0], Ks[c, 1, 1]
                txc, tyc = z * crx, z * cry
                w00, w01, w02 = viewmats[c, 0, 0], viewmats[c, 0, 1], viewmats[c, 0, 2]
                w10, w11, w12 = viewmats[c, 1, 0], viewmats[c, 1, 1], viewmats[c, 1, 2]
                w20, w21, w22 = viewmats[c, 2, 0], viewmats[c, 2, 1], viewmats[c, 2, 2]
                det = max(det_raw, 1e-10)
                # conic = (cc, -b, a) / det
                gc0, gc1, gc2 = g_conics[c, i, 0], g_conics[c, i, 1], g_conics[c, i, 2]
                da, db, dc = gc2 / det, -gc1 / det, gc0 / det
                if det_raw >= 1e-10:  # clamp_min passes the gradient where the value is kept
                    d_det = -(gc0 * cc - gc1 * b + gc2 * a) / (det * det)
                    da += d_det * cc
                    dc += d_det * a
                    db += -2.0 * d_det * b
                # a = t0 Sigma t0^T, b = t1 Sigma t0^T, c = t1 Sigma t1^T: d Sigma (full matrix)
                g00 += da * t00 * t00 + db * t10 * t00 + dc * t10 * t10
                g01 += da * t00 * t01 + db * t10 * t01 + dc * t10 * t11
                g02 += da * t00 * t02 + db * t10 * t02 + dc * t10 * t12
                g10 += da * t01 * t00 + db * t11 * t00 + dc * t11 * t10
                g11 += da * t01 * t01 + db * t11 * t01 + dc * t11 * t11
                g12 += da * t01 * t02 + db * t11 * t02 + dc * t11 * t12
                g20 += da * t02 * t00 + db * t12 * t00 + dc * t12 * t10
                g21 += da * t02 * t01 + db * t12 * t01 + dc * t12 * t11
                g22 += da * t02 * t02 + db * t12 * t02 + dc * t12 * t12
                # d t0 = 2 da Sigma t0 + db Sigma t1, d t1 = 2 dc Sigma t1 + db Sigma t0
                dt00, dt01, dt02 = 2.0 * da * u00 + db * u10, 2.0 * da * u01 + db * u11, 2.0 * da * u02 + db * u12
                dt10, dt11, dt12 = 2.0 * dc * u10 + db * u00, 2.0 * dc * u11 + db * u01, 2.0 * dc * u12 + db * u02
                # t0 = j00 W0 + j02 W2, t1 = j11 W1 + j12 W2
                dj00 = dt00 * w00 + dt01 * w01 + dt02 * w02
                dj02 = dt00 * w20 + dt01 * w21 + dt02 * w22
                dj11 = dt10 * w10 + dt11 * w11 + dt12 * w12
                dj12 = dt10 * w20 + dt11 * w21 + dt12 * w22
                # j00 = fx / z, j02 = -fx txc / z^2 (and y alike)
                dz = -dj00 * fx / (z * z) + dj02 * 2.0 * fx * txc / (z * z * z)
                dz += -dj11 * fy / (z * z) + dj12 * 2.0 * fy * tyc / (z * z * z)
                dtxc, dtyc = -dj02 * fx / (z * z), -dj12 * fy / (z * z)
                # txc = z clamp(tx / z): the clamp passes the gradient inside its bounds
                dz += dtxc * crx + dtyc * cry
                dtx, dty, dtz = 0.0, 0.0, g_depths[c, i]
                if -lim_xn <= rx <= lim_xp:
                    dtx += dtxc
                    dz -= dtxc * rx
                if -lim_yn <= ry <= lim_yp:
                    dty += dtyc
                    dz -= dtyc * ry
                # means2d = (K t) / z
                gmx, gmy = g_means2d[c, i, 0], g_means2d[c, i, 1]
                u = Ks[c, 0, 0] * tx + Ks[c, 0, 1] * ty + Ks[c, 0, 2] * tz
                v = Ks[c, 1, 0] * tx + Ks[c, 1, 1] * ty + Ks[c, 1, 2] * tz
                du, dv = gmx / z, gmy / z
                dz -= (gmx * u + gmy * v) / (z * z)
                dtx += du * Ks[c, 0, 0] + dv * Ks[c, 1, 0]
                dty += du * Ks[c, 0, 1] + dv * Ks[c, 1, 1]
                dtz += du * Ks[c, 0, 2] + dv * Ks[c, 1, 2]
                if depth_ok:  # z = tz only there (elsewhere the constant 1)
                    dtz += dz
                # t = W p + t_cam
                dpx += w00 * dtx + w10 * dty + w20 * dtz
                dpy += w01 * dtx + w11 * dty + w21 * dtz
                dpz += w02 * dtx + w12 * dty + w22 * dtz
                # colour = clamp_min(sum_k Y_k(d) sh_k + 0.5, 0), d = dir / max(|dir|, 1e-12)
                ex, ey, ez, dn = _view_basis(degree, px, py, pz, centres[c], Y, dYx, dYy, dYz)
                ddx, ddy, ddz = 0.0, 0.0, 0.0
                for ch in range(3):
                    if _sh_sum(Y, sh, i, ch, k) + 0.5 < 0.0:
                        continue
                    g = g_colors[c, i, ch]
                    for j in range(k):
                        d_sh[i, j, ch] += Y[j] * g
                        if degree > 0:
                            ddx += dYx[j] * sh[i, j, ch] * g
                            ddy += dYy[j] * sh[i, j, ch] * g
                            ddz += dYz[j] * sh[i, j, ch] * g
                if degree > 0:  # through the normalisation: (I - d d^T) / |dir|
                    dot = ddx * ex + ddy * ey + ddz * ez
                    if dn > 1e-12:
                        ddx, ddy, ddz = ddx - dot * ex, ddy - dot * ey, ddz - dot * ez
                    dpx += ddx / dn
                    dpy += ddy / dn
                    dpz += ddz / dn
            d_means[i, 0], d_means[i, 1], d_means[i, 2] = dpx, dpy, dpz
            d_logits[i] = d_opac * opac * (1.0 - opac)
            # Sigma = M M^T: dM = (G + G^T) M
            h00, h01, h02 = g00 + g00, g01 + g10, g02 + g20
            h11, h12, h22 = g11 + g11, g12 + g21, g22 + g22
            dm00 = h00 * m00 + h01 * m10 + h02 * m20
            dm01 = h00 * m01 + h01 * m11 + h02 * m21
            dm02 = h00 * m02 + h01 * m12 + h02 * m22
            dm10 = h01 * m00 + h11 * m10 + h12 * m20
            dm11 = h01 * m01 + h11 * m11 + h12 * m21
            dm12 = h01 * m02 + h11 * m12 + h12 * m22
            dm20 = h02 * m00 + h12 * m10 + h22 * m20
            dm21 = h02 * m01 + h12 * m11 + h22 * m21
            dm22 = h02 * m02 + h12 * m12 + h22 * m22
            # M = R diag(s), s = exp(log_scales)
            d_log_scales[i, 0] = (dm00 * r00 + dm10 * r10 + dm20 * r20) * sx
            d_log_scales[i, 1] = (dm01 * r01 + dm11 * r11 + dm21 * r21) * sy
            d_log_scales[i, 2] = (dm02 * r02 + dm12 * r12 + dm22 * r22) * sz
            e00, e01, e02 = dm00 * sx, dm01 * sy, dm02 * sz  # d R
            e10, e11, e12 = dm10 * sx, dm11 * sy, dm12 * sz
            e20, e21, e22 = dm20 * sx, dm21 * sy, dm22 * sz
            # R(w, x, y, z) of the unit quaternion
            dw = 2.0 * (-qz * e01 + qy * e02 + qz * e10 - qx * e12 - qy * e20 + qx * e21)
            dx_ = 2.0 * (qy * (e01 + e10) + qz * (e02 + e20) + qw * (e21 - e12) - 2.0 * qx * (e11 + e22))
            dy_ = 2.0 * (qx * (e01 + e10) + qz * (e12 + e21) + qw * (e02 - e20) - 2.0 * qy * (e00 + e22))
            dz_ = 2.0 * (qx * (e02 + e20) + qy * (e12 + e21) + qw * (e10 - e01) - 2.0 * qz * (e00 + e11))
            if qn > 1e-12:  # q / |q|: (I - q^ q^T) / |q|
                dot = dw * qw + dx_ * qx + dy_ * qy + dz_ * qz
                dw, dx_, dy_, dz_ = dw - dot * qw, dx_ - dot * qx, dy_ - dot * qy, dz_ - dot * qz
            d_quats[i, 0], d_quats[i, 1], d_quats[i, 2], d_quats[i, 3] = dw / qn, dx_ / qn, dy_ / qn, dz_ / qn


def _numpy(t: Tensor, dtype: torch.dtype) -> np.ndarray:
    """`t` as a contiguous numpy array of `dtype` (a view when it already is one)."""
    return t.detach().to(dtype).contiguous().numpy()


def _arrays(gaussians: GaussianParams, cameras: Cameras) -> tuple:
    """The kernels' shared leading arguments (numpy views in the Gaussians' dtype)."""
    dtype = gaussians.means.dtype

    def arr(t: Tensor) -> np.ndarray:
        return _numpy(t, dtype)

    return (
        arr(gaussians.means),
        arr(gaussians.quats),
        arr(gaussians.log_scales),
        arr(gaussians.opacity_logits),
        arr(gaussians.sh),
        arr(cameras.viewmats),
        arr(cameras.Ks),
        arr(cameras.camera_centers()),
        int(cameras.width),
        int(cameras.height),
        float(cameras.near),
        float(cameras.far),
    )


def _forward(args: tuple, eps2d: float, degree: int) -> tuple[Tensor, ...]:
    """Run the forward kernel on `_arrays` output: (means2d, conics, depths, radii, colors, opacities)."""
    n, c, np_dtype = args[0].shape[0], args[5].shape[0], args[0].dtype
    means2d = np.empty((c, n, 2), np_dtype)
    conics = np.empty((c, n, 3), np_dtype)
    depths = np.empty((c, n), np_dtype)
    radii = np.empty((c, n), np.int32)
    colors = np.empty((c, n, 3), np_dtype)
    opacities = np.empty((c, n), np_dtype)
    with NUMBA_KERNEL_LOCK:
        _forward_kernel(*args, float(eps2d), degree, means2d, conics, depths, radii, colors, opacities)
    t = torch.from_numpy
    return t(means2d), t(conics), t(depths), t(radii), t(colors), t(opacities)


class _ProjectFunction(torch.autograd.Function):
    """The compiled projection with its hand-written backward (inputs: the five Gaussian tensors)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        means: Tensor,
        quats: Tensor,
        log_scales: Tensor,
        opacity_logits: Tensor,
        sh: Tensor,
        cameras: Cameras,
        eps2d: float,
        degree: int,
    ) -> tuple[Tensor, ...]:
        args = _arrays(GaussianParams(means, quats, log_scales, opacity_logits, sh), cameras)
        means2d, conics, depths, radii, colors, opacities = _forward(args, eps2d, degree)
        ctx.args = args
        ctx.eps2d, ctx.degree, ctx.dtype = float(eps2d), degree, means.dtype
        ctx.mark_non_differentiable(radii)
        return means2d, conics, depths, radii, colors, opacities

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any,
        g_means2d: Tensor,
        g_conics: Tensor,
        g_depths: Tensor,
        _g_radii: Tensor,
        g_colors: Tensor,
        g_opacities: Tensor,
    ) -> tuple[Tensor | None, ...]:
        args = ctx.args

        def arr(t: Tensor) -> np.ndarray:
            return _numpy(t, ctx.dtype)

        d_means = np.empty_like(args[0])
        d_quats = np.empty_like(args[1])
        d_log_scales = np.empty_like(args[2])
        d_logits = np.empty_like(args[3])
        d_sh = np.zeros_like(args[4])
        with NUMBA_KERNEL_LOCK:
            _backward_kernel(
                *args,
                ctx.eps2d,
                ctx.degree,
                arr(g_means2d),
                arr(g_conics),
                arr(g_depths),
                arr(g_colors),
                arr(g_opacities),
                d_means,
                d_quats,
                d_log_scales,
                d_logits,
                d_sh,
            )
        grads = [torch.from_numpy(a) for a in (d_means, d_quats, d_log_scales, d_logits, d_sh)]
        needed = ctx.needs_input_grad
        return (*(g if needed[j] else None for j, g in enumerate(grads)), None, None, None)


def project_cpu(
    gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None = None, eps2d: float = 0.3
) -> Projection:
    """`projection.project`, compiled (CPU tensors of one float dtype), differentiable.

    Args:
        gaussians: N Gaussians (CPU, float32 or float64).
        cameras: C cameras of one image size (CPU).
        sh_degree: SH degree to evaluate; None uses every stored coefficient.
        eps2d: low-pass added to the 2D covariance diagonal, in pixels^2.

    Returns:
        The `Projection`, equal to `projection.project`'s up to float32 rounding (see the module
        docstring); differentiable w.r.t. the Gaussians when autograd records the call. Cameras
        that require gradients are projected by `projection.project`.

    Raises:
        RenderError: an SH degree the Gaussians do not store.
    """
    stored = gaussians.sh_degree
    degree = stored if sh_degree is None else int(sh_degree)
    if not 0 <= degree <= stored:
        raise RenderError(f"sh_degree {sh_degree} is outside 0..{stored} (the degree stored in GaussianParams.sh)")
    tensors = gaussians.as_dict()
    grad = torch.is_grad_enabled()
    if grad and (cameras.viewmats.requires_grad or cameras.Ks.requires_grad):
        return project(gaussians, cameras, sh_degree, eps2d)
    if grad and any(t.requires_grad for t in tensors.values()):
        out = _ProjectFunction.apply(
            gaussians.means,
            gaussians.quats,
            gaussians.log_scales,
            gaussians.opacity_logits,
            gaussians.sh,
            cameras,
            eps2d,
            degree,
        )
    else:
        out = _forward(_arrays(gaussians, cameras), eps2d, degree)
    return Projection(*out)  # (means2d, conics, depths, radii, colors, opacities), the field order


__all__ = ["project_cpu"]
