"""Real spherical harmonics, degrees 0 to 3 (the standard 3DGS basis and constants).

View-dependent colour of a Gaussian is ``clamp_min(eval_sh(degree, sh, dirs) + 0.5, 0)`` where
``dirs`` points from the camera centre to the Gaussian centre (`sh_to_color`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pgs.core.errors import RenderError

#: Degree-0 constant ``1 / (2 sqrt(pi))``: a Gaussian's base colour is ``SH_C0 * sh[:, 0] + 0.5``.
C0 = 0.28209479177387814
SH_C0 = C0
C1 = 0.4886025119029199
C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def num_sh_coeffs(degree: int) -> int:
    """Number of coefficients K = (degree + 1)^2 per colour channel."""
    return (degree + 1) ** 2


def sh_basis(degree: int, dirs: Tensor) -> Tensor:
    """Real SH basis functions at (not necessarily unit) directions.

    Args:
        degree: 0..3.
        dirs: [..., 3] directions; normalised here (a zero vector gives the degree-0 term only).

    Returns:
        [..., (degree + 1)^2] basis values in the 3DGS coefficient order.
    """
    if not 0 <= degree <= 3:
        raise RenderError(f"sh_degree must be in 0..3, got {degree}")
    ones = torch.ones_like(dirs[..., 0])
    out = [C0 * ones]
    if degree == 0:
        return torch.stack(out, -1)
    d = torch.nn.functional.normalize(dirs, dim=-1)
    x, y, z = d.unbind(-1)
    out += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        out += [
            C2[0] * xy,
            C2[1] * yz,
            C2[2] * (2.0 * zz - xx - yy),
            C2[3] * xz,
            C2[4] * (xx - yy),
        ]
        if degree >= 3:
            out += [
                C3[0] * y * (3.0 * xx - yy),
                C3[1] * xy * z,
                C3[2] * y * (4.0 * zz - xx - yy),
                C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
                C3[4] * x * (4.0 * zz - xx - yy),
                C3[5] * z * (xx - yy),
                C3[6] * x * (xx - 3.0 * yy),
            ]
    return torch.stack(out, -1)


def eval_sh(degree: int, sh: Tensor, dirs: Tensor) -> Tensor:
    """Evaluate real spherical harmonics (raw value, without the +0.5 offset or clamp).

    Args:
        degree: SH degree to use, 0..3; only the first (degree + 1)^2 coefficients are read.
        sh: [..., K, 3] coefficients with K >= (degree + 1)^2.
        dirs: [..., 3] view directions (camera centre -> Gaussian), need not be normalised;
            broadcast against ``sh[..., 0, :]``.

    Returns:
        [..., 3] the SH expansion sum_k sh_k * Y_k(dirs).
    """
    k = num_sh_coeffs(degree)
    if sh.dim() < 2 or sh.shape[-1] != 3 or sh.shape[-2] < k:
        raise RenderError(f"sh: expected [..., K>={k}, 3] for degree {degree}, got {list(sh.shape)}")
    if k == 1:
        return C0 * sh[..., 0, :] + torch.zeros_like(dirs)
    basis = sh_basis(degree, dirs)  # [..., k]
    return (basis[..., :, None] * sh[..., :k, :]).sum(-2)


def sh_to_color(degree: int, sh: Tensor, dirs: Tensor) -> Tensor:
    """View-dependent RGB: ``clamp_min(eval_sh + 0.5, 0)`` (the 3DGS convention).

    Args:
        degree: SH degree to use, 0..3.
        sh: [..., K, 3] coefficients.
        dirs: [..., 3] view directions.

    Returns:
        [..., 3] non-negative colours.
    """
    return torch.clamp_min(eval_sh(degree, sh, dirs) + 0.5, 0.0)


def rgb_to_sh0(colours: Tensor) -> Tensor:
    """Degree-0 SH coefficients whose colour is `colours`: ``(colours - 0.5) / SH_C0``.

    Args:
        colours: [..., 3] RGB in [0, 1].

    Returns:
        [..., 3] coefficients (the inverse of ``SH_C0 * sh0 + 0.5``).
    """
    return (colours - 0.5) / SH_C0


def sh0_to_rgb(sh0: Tensor) -> Tensor:
    """View-independent colour of degree-0 coefficients: ``clamp_min(SH_C0 * sh0 + 0.5, 0)``.

    Args:
        sh0: [..., 3] degree-0 coefficients.

    Returns:
        [..., 3] RGB (not clamped above).
    """
    return torch.clamp_min(sh0 * SH_C0 + 0.5, 0)


__all__ = ["SH_C0", "eval_sh", "num_sh_coeffs", "rgb_to_sh0", "sh0_to_rgb", "sh_basis", "sh_to_color"]
