"""Initial Gaussians of a branch (TalkingGaussian: random points in a cube, near-grey colour)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pgs.core.gaussians import GaussianParams


def knn_mean_sq_dist(points: Tensor, k: int = 3, chunk: int = 2048) -> Tensor:
    """Mean squared distance of each point to its `k` nearest other points (3DGS's simple-knn).

    Args:
        points: [N, 3].
        k: neighbours (fewer if N - 1 < k).
        chunk: rows per distance block (bounds memory to chunk x N).

    Returns:
        [N] mean squared distances (zeros for a single point).
    """
    n = points.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return points.new_zeros(n)
    out = []
    for start in range(0, n, chunk):
        block = points[start : start + chunk]
        d2 = torch.cdist(block, points).square()
        rows = torch.arange(block.shape[0], device=points.device)
        d2[rows, rows + start] = float("inf")
        out.append(d2.topk(k, dim=1, largest=False).values.mean(dim=1))
    return torch.cat(out)


def random_gaussians(
    num: int,
    extent: float = 0.1,
    sh_degree: int = 2,
    opacity: float = 0.1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> GaussianParams:
    """TalkingGaussian's initial point cloud.

    Points uniform in ``[-extent, extent]^3``; isotropic scale = sqrt of the mean squared
    distance to the 3 nearest points; identity rotation; opacity `opacity`; SH DC coefficients
    ``rand / 255`` (colour about 0.5 grey, as 3DGS's random init) and higher bands zero.

    Args:
        num: number of Gaussians N.
        extent: half side of the cube.
        sh_degree: SH degree of the stored coefficients.
        opacity: initial opacity in (0, 1).
        generator: random generator (for reproducibility).
        dtype: floating dtype.

    Returns:
        `GaussianParams` with N Gaussians on the CPU.
    """
    if num <= 0:
        raise ValueError(f"num_points must be positive, got {num}")
    if not 0.0 < opacity < 1.0:
        raise ValueError(f"initial opacity must be in (0, 1), got {opacity}")
    means = (torch.rand(num, 3, generator=generator, dtype=dtype) * 2.0 - 1.0) * extent
    d2 = knn_mean_sq_dist(means).clamp_min(1e-7)
    log_scales = (0.5 * torch.log(d2))[:, None].repeat(1, 3)
    quats = torch.zeros(num, 4, dtype=dtype)
    quats[:, 0] = 1.0
    logit = math.log(opacity / (1.0 - opacity))
    opacity_logits = torch.full((num,), logit, dtype=dtype)
    sh = torch.zeros(num, (sh_degree + 1) ** 2, 3, dtype=dtype)
    sh[:, 0, :] = torch.rand(num, 3, generator=generator, dtype=dtype) / 255.0
    return GaussianParams(means, quats, log_scales, opacity_logits, sh)


__all__ = ["knn_mean_sq_dist", "random_gaussians"]
