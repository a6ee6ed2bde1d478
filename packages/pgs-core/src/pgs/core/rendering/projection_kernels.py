"""Compiled (numba) projection for the `cpu` backend's inference fast path.

`project_inference` returns the `Projection` of `projection.project` (EWA splatting with the
3DGS/gsplat conventions: the 1.3x field-of-view clamp of the Jacobian, the ``eps2d`` low-pass,
the 1/255 screen radius, the near/far cull and the real SH basis of `sh`) in one parallel pass over
the Gaussians, without autograd's graph or the dozens of [C, N] intermediate tensors the PyTorch
version allocates. It serves renders that need no gradient (``pgs serve``, ``pgs render``,
evaluation): 20k Gaussians with SH degree 2 project in well under a millisecond on 2 cores,
against about 4.5 ms in PyTorch.

Each Gaussian is computed in float64 and written in the inputs' dtype. PyTorch's float32 path
rounds every intermediate to float32 and uses other exp/log implementations, so the two agree
to float32 rounding rather than bit for bit (tested): a screen radius whose exact value lies
within rounding of an integer may differ by one pixel (a ring where alpha is below 1/255
anyway), and a pixel whose alpha lies within rounding of the 1/255 cut-off may be composited by
one path and not the other.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import prange

from pgs.core.cameras import Cameras
from pgs.core.errors import RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.numba_lock import NUMBA_KERNEL_LOCK
from pgs.core.rendering.projection import Projection
from pgs.core.rendering.sh import C0, C1, C2, C3

_C2_0, _C2_1, _C2_2, _C2_3, _C2_4 = C2
_C3_0, _C3_1, _C3_2, _C3_3, _C3_4, _C3_5, _C3_6 = C3


@numba.njit(cache=True, nogil=True)
def _sh_color(degree: int, sh: np.ndarray, i: int, x: float, y: float, z: float, out: np.ndarray, c: int) -> None:
    """out[c, i] = clamp_min(sum_k sh[i, k] Y_k(x, y, z) + 0.5, 0) at a unit direction (`sh.sh_to_color`)."""
    xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
    for ch in range(3):
        acc = C0 * sh[i, 0, ch]
        if degree >= 1:
            acc += -C1 * y * sh[i, 1, ch] + C1 * z * sh[i, 2, ch] - C1 * x * sh[i, 3, ch]
        if degree >= 2:
            acc += (
                _C2_0 * xy * sh[i, 4, ch]
                + _C2_1 * yz * sh[i, 5, ch]
                + _C2_2 * (2.0 * zz - xx - yy) * sh[i, 6, ch]
                + _C2_3 * xz * sh[i, 7, ch]
                + _C2_4 * (xx - yy) * sh[i, 8, ch]
            )
        if degree >= 3:
            acc += (
                _C3_0 * y * (3.0 * xx - yy) * sh[i, 9, ch]
                + _C3_1 * xy * z * sh[i, 10, ch]
                + _C3_2 * y * (4.0 * zz - xx - yy) * sh[i, 11, ch]
                + _C3_3 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * sh[i, 12, ch]
                + _C3_4 * x * (4.0 * zz - xx - yy) * sh[i, 13, ch]
                + _C3_5 * z * (xx - yy) * sh[i, 14, ch]
                + _C3_6 * x * (xx - 3.0 * yy) * sh[i, 15, ch]
            )
        out[c, i, ch] = max(acc + 0.5, 0.0)


@numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _project_kernel(
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
    for i in prange(n_gauss):
        # R from the normalised wxyz quaternion (F.normalize: divide by max(|q|, 1e-12))
        qw, qx, qy, qz = float(quats[i, 0]), float(quats[i, 1]), float(quats[i, 2]), float(quats[i, 3])
        qn = max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12)
        qw, qx, qy, qz = qw / qn, qx / qn, qy / qn, qz / qn
        r00, r01, r02 = 1.0 - 2.0 * (qy * qy + qz * qz), 2.0 * (qx * qy - qw * qz), 2.0 * (qx * qz + qw * qy)
        r10, r11, r12 = 2.0 * (qx * qy + qw * qz), 1.0 - 2.0 * (qx * qx + qz * qz), 2.0 * (qy * qz - qw * qx)
        r20, r21, r22 = 2.0 * (qx * qz - qw * qy), 2.0 * (qy * qz + qw * qx), 1.0 - 2.0 * (qx * qx + qy * qy)
        sx, sy, sz = math.exp(log_scales[i, 0]), math.exp(log_scales[i, 1]), math.exp(log_scales[i, 2])
        m00, m01, m02 = r00 * sx, r01 * sy, r02 * sz  # M = R S
        m10, m11, m12 = r10 * sx, r11 * sy, r12 * sz
        m20, m21, m22 = r20 * sx, r21 * sy, r22 * sz
        s00 = m00 * m00 + m01 * m01 + m02 * m02  # world covariance M M^T
        s01 = m00 * m10 + m01 * m11 + m02 * m12
        s02 = m00 * m20 + m01 * m21 + m02 * m22
        s11 = m10 * m10 + m11 * m11 + m12 * m12
        s12 = m10 * m20 + m11 * m21 + m12 * m22
        s22 = m20 * m20 + m21 * m21 + m22 * m22
        opac = 1.0 / (1.0 + math.exp(-float(logits[i])))
        extent2 = 2.0 * math.log(max(opac * 255.0, 1.0))
        px, py, pz = float(means[i, 0]), float(means[i, 1]), float(means[i, 2])
        for c in range(n_cams):
            opacities[c, i] = opac
            tx = viewmats[c, 0, 0] * px + viewmats[c, 0, 1] * py + viewmats[c, 0, 2] * pz + viewmats[c, 0, 3]
            ty = viewmats[c, 1, 0] * px + viewmats[c, 1, 1] * py + viewmats[c, 1, 2] * pz + viewmats[c, 1, 3]
            tz = viewmats[c, 2, 0] * px + viewmats[c, 2, 1] * py + viewmats[c, 2, 2] * pz + viewmats[c, 2, 3]
            depth_ok = near < tz < far
            z = tz if depth_ok else 1.0
            fx, fy, cx, cy = Ks[c, 0, 0], Ks[c, 1, 1], Ks[c, 0, 2], Ks[c, 1, 2]
            # EWA Jacobian with x/z, y/z clamped to 1.3x the field of view (3DGS/gsplat)
            lim_xp, lim_xn = (width - cx) / fx + 0.15 * width / fx, cx / fx + 0.15 * width / fx
            lim_yp, lim_yn = (height - cy) / fy + 0.15 * height / fy, cy / fy + 0.15 * height / fy
            txc = z * max(min(tx / z, lim_xp), -lim_xn)
            tyc = z * max(min(ty / z, lim_yp), -lim_yn)
            j00, j02 = fx / z, -fx * txc / (z * z)
            j11, j12 = fy / z, -fy * tyc / (z * z)
            # T = J W (rows t0, t1); cov2d = T Sigma T^T
            t00 = j00 * viewmats[c, 0, 0] + j02 * viewmats[c, 2, 0]
            t01 = j00 * viewmats[c, 0, 1] + j02 * viewmats[c, 2, 1]
            t02 = j00 * viewmats[c, 0, 2] + j02 * viewmats[c, 2, 2]
            t10 = j11 * viewmats[c, 1, 0] + j12 * viewmats[c, 2, 0]
            t11 = j11 * viewmats[c, 1, 1] + j12 * viewmats[c, 2, 1]
            t12 = j11 * viewmats[c, 1, 2] + j12 * viewmats[c, 2, 2]
            u00 = s00 * t00 + s01 * t01 + s02 * t02
            u01 = s01 * t00 + s11 * t01 + s12 * t02
            u02 = s02 * t00 + s12 * t01 + s22 * t02
            u10 = s00 * t10 + s01 * t11 + s02 * t12
            u11 = s01 * t10 + s11 * t11 + s12 * t12
            u12 = s02 * t10 + s12 * t11 + s22 * t12
            a = t00 * u00 + t01 * u01 + t02 * u02 + eps2d
            b = t10 * u00 + t11 * u01 + t12 * u02
            cc = t10 * u10 + t11 * u11 + t12 * u12 + eps2d
            det_raw = a * cc - b * b
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
            if degree == 0:
                for ch in range(3):
                    colors[c, i, ch] = max(C0 * sh[i, 0, ch] + 0.5, 0.0)
                continue
            dx, dy, dz = px - centres[c, 0], py - centres[c, 1], pz - centres[c, 2]
            dn = max(math.sqrt(dx * dx + dy * dy + dz * dz), 1e-12)
            _sh_color(degree, sh, i, dx / dn, dy / dn, dz / dn, colors, c)


def project_inference(
    gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None = None, eps2d: float = 0.3
) -> Projection:
    """`projection.project` without gradients, compiled (CPU tensors of one float dtype).

    Args:
        gaussians: N Gaussians (CPU, float32 or float64).
        cameras: C cameras of one image size (CPU).
        sh_degree: SH degree to evaluate; None uses every stored coefficient.
        eps2d: low-pass added to the 2D covariance diagonal, in pixels^2.

    Returns:
        The `Projection` (no tensor requires grad), equal to `projection.project`'s up to
        float32 rounding (see the module docstring).

    Raises:
        RenderError: an SH degree the Gaussians do not store.
    """
    stored = gaussians.sh_degree
    degree = stored if sh_degree is None else int(sh_degree)
    if not 0 <= degree <= stored:
        raise RenderError(f"sh_degree {sh_degree} is outside 0..{stored} (the degree stored in GaussianParams.sh)")
    dtype = gaussians.means.dtype

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().to(dtype).contiguous().numpy()

    n, c = gaussians.num, cameras.num
    np_dtype = arr(gaussians.means[:0]).dtype
    means2d = np.empty((c, n, 2), np_dtype)
    conics = np.empty((c, n, 3), np_dtype)
    depths = np.empty((c, n), np_dtype)
    radii = np.empty((c, n), np.int32)
    colors = np.empty((c, n, 3), np_dtype)
    opacities = np.empty((c, n), np_dtype)
    with NUMBA_KERNEL_LOCK:
        _project_kernel(
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
            float(eps2d),
            degree,
            means2d,
            conics,
            depths,
            radii,
            colors,
            opacities,
        )
    t = torch.from_numpy
    return Projection(t(means2d), t(conics), t(depths), t(radii), t(colors), t(opacities))


__all__ = ["project_inference"]
