"""EWA projection of 3D Gaussians into pinhole cameras (shared by every CPU/torch backend).

For each camera and Gaussian: world -> camera transform, the perspective Jacobian of EWA
splatting (with the 3DGS/gsplat clamp of x/z, y/z to 1.3x the field of view), a 0.3 px low-pass
(``cov2d + eps2d * I``), the conic (inverse 2D covariance), depth, view-dependent SH colour and
an integer screen radius.

Radius: the smallest integer r such that every pixel where the Gaussian's alpha can reach 1/255
lies in the square ``[x - r, x + r] x [y - r, y + r]``:
``r = ceil(sqrt(2 ln(255 o)) * sqrt(lambda_max(cov2d + eps2d I)))``. This is at most 3.33 sigma
(opacity 1) and shrinks for transparent Gaussians; ``o < 1/255`` gives r = 0. Because nothing
outside the radius can pass the 1/255 cut-off, tiles never change the image and a Gaussian's
pixel count never exceeds the pixels inside its radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.errors import RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.sh import sh_to_color

#: Alpha below this is skipped (3DGS rule).
ALPHA_MIN = 1.0 / 255.0
#: Alpha is clamped to this maximum (3DGS/Inria).
ALPHA_MAX = 0.99
#: A pixel is done when its transmittance would drop below this (3DGS rule).
T_MIN = 1e-4


@dataclass
class Projection:
    """Per-camera screen-space Gaussians.

    Attributes:
        means2d: [C, N, 2] pixel coordinates (pixel centres at integer + 0.5, gsplat convention).
        conics: [C, N, 3] (a, b, c) with [[a, b], [b, c]] = inverse of (cov2d + eps2d I).
        depths: [C, N] camera-space z of the centres.
        radii: [C, N] int32 screen radius in pixels; 0 = culled (depth outside (near, far),
            degenerate covariance, opacity < 1/255, or off the image by more than the radius).
        colors: [C, N, 3] view-dependent colour from SH (clamped >= 0).
        opacities: [C, N] sigmoid(opacity_logits), broadcast per camera.
    """

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    radii: Tensor
    colors: Tensor
    opacities: Tensor

    @property
    def num_cameras(self) -> int:
        """Number of cameras C."""
        return int(self.means2d.shape[0])

    @property
    def num_gaussians(self) -> int:
        """Number of Gaussians N."""
        return int(self.means2d.shape[1])


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Rotation matrices from (unnormalised) wxyz quaternions.

    Args:
        quats: [..., 4] (w, x, y, z).

    Returns:
        [..., 3, 3] rotation matrices.
    """
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    rot = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )
    return rot.reshape(*quats.shape[:-1], 3, 3)


def covariance3d(quats: Tensor, scales: Tensor) -> Tensor:
    """World-space covariance ``R S S^T R^T``.

    Args:
        quats: [N, 4] wxyz quaternions (unnormalised).
        scales: [N, 3] activated standard deviations.

    Returns:
        [N, 3, 3] covariances.
    """
    s00, s01, s02, s11, s12, s22 = covariance3d_entries(quats, scales)
    rows = [torch.stack(r, -1) for r in ((s00, s01, s02), (s01, s11, s12), (s02, s12, s22))]
    return torch.stack(rows, -2)


def covariance3d_entries(quats: Tensor, scales: Tensor) -> tuple[Tensor, ...]:
    """The six distinct entries of ``R S S^T R^T``: (s00, s01, s02, s11, s12, s22), each [N].

    Written entry by entry: batched 3x3 matmuls (or broadcast products) over hundreds of
    thousands of tiny matrices are far slower on CPU, forward and backward, than a few dozen
    elementwise operations on [N] tensors.

    Args:
        quats: [N, 4] wxyz quaternions (unnormalised).
        scales: [N, 3] activated standard deviations.

    Returns:
        Six [N] tensors.
    """
    m = quat_to_rotmat(quats) * scales[..., None, :]  # M = R S, [N, 3, 3]
    m0, m1, m2 = m.unbind(-2)  # rows of M, [N, 3]

    def dot(u: Tensor, v: Tensor) -> Tensor:
        return (u * v).sum(-1)

    return dot(m0, m0), dot(m0, m1), dot(m0, m2), dot(m1, m1), dot(m1, m2), dot(m2, m2)


def screen_radius(cov2d_a: Tensor, cov2d_b: Tensor, cov2d_c: Tensor, opacities: Tensor) -> Tensor:
    """Integer radius enclosing the alpha >= 1/255 region (see the module docstring).

    Args:
        cov2d_a: [...] entry a of the low-passed 2D covariance [[a, b], [b, c]].
        cov2d_b: [...] entry b.
        cov2d_c: [...] entry c.
        opacities: [...] activated opacities.

    Returns:
        [...] float radii (whole numbers; 0 where opacity < 1/255).
    """
    mid = 0.5 * (cov2d_a + cov2d_c)
    lam = mid + torch.sqrt(torch.clamp_min(0.25 * (cov2d_a - cov2d_c) ** 2 + cov2d_b**2, 0.0))
    extent2 = 2.0 * torch.log(torch.clamp_min(opacities * 255.0, 1.0))
    return torch.ceil(torch.sqrt(torch.clamp_min(extent2 * lam, 0.0)))


def _affine3(mat: Tensor, points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``mat[:, :, :3] @ p + mat[:, :, 3]`` for [C, 3, 4] `mat` and [N, 3] `points`, entry by entry.

    Returns:
        (x, y, z), each [C, N].
    """
    px, py, pz = points.unbind(-1)
    rows = []
    for r in range(3):
        m = mat[:, r, :, None]  # [C, 4, 1]
        rows.append(m[:, 0] * px + m[:, 1] * py + m[:, 2] * pz + m[:, 3])
    return rows[0], rows[1], rows[2]


def _project_covariance(
    j00: Tensor, j02: Tensor, j11: Tensor, j12: Tensor, rot_v: Tensor, cov_w: tuple[Tensor, ...]
) -> tuple[Tensor, Tensor, Tensor]:
    """EWA 2D covariance ``cov2d = T cov_w T^T`` with ``T = J W``, entry by entry.

    Args:
        j00: [C, N] fx / z.
        j02: [C, N] -fx x / z^2.
        j11: [C, N] fy / z.
        j12: [C, N] -fy y / z^2.
        rot_v: [C, 3, 3] world-to-camera rotations W.
        cov_w: the six [N] entries of the world covariances (`covariance3d_entries`).

    Returns:
        (a, b, c), each [C, N]: cov2d = [[a, b], [b, c]] (before the low-pass).
    """
    w = rot_v[:, :, :, None]  # [C, 3, 3, 1]: w[:, r, k] broadcasts against [C, N]
    t0 = [j00 * w[:, 0, k] + j02 * w[:, 2, k] for k in range(3)]  # row 0 of T, 3 x [C, N]
    t1 = [j11 * w[:, 1, k] + j12 * w[:, 2, k] for k in range(3)]  # row 1 of T
    s00, s01, s02, s11, s12, s22 = cov_w
    sigma = ((s00, s01, s02), (s01, s11, s12), (s02, s12, s22))

    def sigma_times(t: list[Tensor]) -> list[Tensor]:
        return [sigma[i][0] * t[0] + sigma[i][1] * t[1] + sigma[i][2] * t[2] for i in range(3)]

    u0 = sigma_times(t0)  # cov_w T0^T
    u1 = sigma_times(t1)
    a = t0[0] * u0[0] + t0[1] * u0[1] + t0[2] * u0[2]
    b = t1[0] * u0[0] + t1[1] * u0[1] + t1[2] * u0[2]
    c = t1[0] * u1[0] + t1[1] * u1[1] + t1[2] * u1[2]
    return a, b, c


def project(
    gaussians: GaussianParams, cameras: Cameras, sh_degree: int | None = None, eps2d: float = 0.3
) -> Projection:
    """Project N Gaussians into C cameras (EWA splatting with the 3DGS/gsplat conventions).

    Args:
        gaussians: raw parameters (N Gaussians).
        cameras: C cameras (OpenCV convention) of one image size.
        sh_degree: SH degree to evaluate; None uses every stored coefficient.
        eps2d: low-pass filter added to the 2D covariance diagonal, in pixels^2.

    Returns:
        The `Projection`; means2d, conics, colors, opacities and depths are differentiable
        w.r.t. the GaussianParams tensors. Values of culled Gaussians (radius 0) are finite but
        otherwise unspecified.
    """
    stored = gaussians.sh_degree
    degree = stored if sh_degree is None else int(sh_degree)
    if not 0 <= degree <= stored:
        raise RenderError(f"sh_degree {sh_degree} is outside 0..{stored} (the degree stored in GaussianParams.sh)")
    dtype = gaussians.means.dtype
    viewmats = cameras.viewmats.to(dtype)
    Ks = cameras.Ks.to(dtype)
    width, height = int(cameras.width), int(cameras.height)

    rot_v = viewmats[:, :3, :3]  # [C, 3, 3]
    # Camera-space centres written out per entry (not a batched matmul, whose blocking depends
    # on N): each Gaussian's projection is then bitwise independent of the others, so adding
    # or removing a Gaussian cannot move another across the 1/255 or 1e-4 cut-offs.
    tx, ty, tz = _affine3(viewmats[:, :3, :4], gaussians.means)  # [C, N] each
    cov_w = covariance3d_entries(gaussians.quats, torch.exp(gaussians.log_scales))  # 6 x [N]
    depth_ok = (tz > cameras.near) & (tz < cameras.far)
    z = torch.where(depth_ok, tz, torch.ones_like(tz))  # safe divisor: culled ones get zero grad
    fx, fy = Ks[:, 0, 0, None], Ks[:, 1, 1, None]  # [C, 1]
    cx, cy = Ks[:, 0, 2, None], Ks[:, 1, 2, None]
    # EWA Jacobian; x/z and y/z clamped to 1.3x the field of view as in 3DGS/gsplat.
    tan_fovx, tan_fovy = 0.5 * width / fx, 0.5 * height / fy
    lim_xp, lim_xn = (width - cx) / fx + 0.3 * tan_fovx, cx / fx + 0.3 * tan_fovx
    lim_yp, lim_yn = (height - cy) / fy + 0.3 * tan_fovy, cy / fy + 0.3 * tan_fovy
    txc = z * torch.maximum(torch.minimum(tx / z, lim_xp), -lim_xn)
    tyc = z * torch.maximum(torch.minimum(ty / z, lim_yp), -lim_yn)
    # EWA Jacobian J = [[fx/z, 0, -fx x/z^2], [0, fy/z, -fy y/z^2]] (each entry [C, N]).
    j00, j02 = fx / z, -fx * txc / (z * z)
    j11, j12 = fy / z, -fy * tyc / (z * z)
    a, b, c = _project_covariance(j00, j02, j11, j12, rot_v, cov_w)
    a = a + eps2d  # 0.3 px low-pass
    c = c + eps2d
    det_raw = a * c - b * b
    det = torch.clamp_min(det_raw, 1e-10)
    conics = torch.stack([c / det, -b / det, a / det], -1)  # [C, N, 3]

    u = Ks[:, 0, 0, None] * tx + Ks[:, 0, 1, None] * ty + Ks[:, 0, 2, None] * tz  # K (x, y, z), per entry
    v = Ks[:, 1, 0, None] * tx + Ks[:, 1, 1, None] * ty + Ks[:, 1, 2, None] * tz
    means2d = torch.stack([u / z, v / z], -1)  # [C, N, 2]

    opac = torch.sigmoid(gaussians.opacity_logits)
    opacities = opac[None, :].expand(cameras.num, -1)

    with torch.no_grad():
        r = screen_radius(a, b, c, opacities)
        mx, my = means2d[..., 0], means2d[..., 1]
        inside = (mx + r > 0) & (mx - r < width) & (my + r > 0) & (my - r < height)
        valid = depth_ok & (det_raw > 0) & (r > 0) & inside
        radii = torch.where(valid, r, torch.zeros_like(r)).to(torch.int32)

    if degree == 0:
        colors = sh_to_color(0, gaussians.sh, gaussians.means)[None].expand(cameras.num, -1, -1)
    else:
        dirs = gaussians.means[None, :, :] - cameras.camera_centers().to(dtype)[:, None, :]  # [C, N, 3]
        colors = sh_to_color(degree, gaussians.sh[None], dirs)
    return Projection(means2d, conics, tz, radii, colors, opacities)


def eq4_mask(proj: Projection, z_min: float) -> Tensor:
    """Eq. 4 validity: radius > 0 and camera depth > z_min (centre-in-grown-image is in the radius).

    Args:
        proj: the projection.
        z_min: minimum camera depth.

    Returns:
        [C, N] bool.
    """
    return (proj.radii > 0) & (proj.depths.detach() > z_min)


__all__ = [
    "ALPHA_MAX",
    "ALPHA_MIN",
    "T_MIN",
    "Projection",
    "covariance3d",
    "covariance3d_entries",
    "eq4_mask",
    "project",
    "quat_to_rotmat",
    "screen_radius",
]
