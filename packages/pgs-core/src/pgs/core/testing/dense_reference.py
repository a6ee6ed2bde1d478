"""Dense float64 reference renderer: every pixel against every Gaussian, sorted by depth.

A deliberately simple transcription of the 3DGS compositing rules (rasterizer contract,
section 4) with no tiles, no blocks and no custom gradients, used to check rasterizer backends:

    for each camera, for each visible Gaussian in (depth, index) order, for all pixels at once:
        sigma = 0.5 (a dx^2 + c dy^2) + b dx dy,   d = mean2d - pixel centre
        alpha = min(0.99, o exp(-sigma));  passes = sigma >= 0 and alpha >= 1/255
        Eq. 5 counts, from the unstopped transmittance U = prod (1 - alpha_j) over the passing
        Gaussians j in front (the rendering equation's T, no stop rule involved):
            "paper":    count += passes and U >= 1e-4              (T before the Gaussian)
            "pixel-gs": count += passes and U (1 - alpha) >= 1e-4  (T after it)
        U *= 1 - alpha where passes
        compositing (3DGS stop rule), on the pixels not done:
            if T (1 - alpha) < 1e-4: the pixel is done, this Gaussian not composited
            else: colour += c alpha T, depth += z alpha T, T *= 1 - alpha

The counts are written from Eq. 5's definition, independently of the compositing loop (the
backends derive theirs from their compositing state). Pixel counts are then masked by Eq. 4
(radius > 0, depth > z_min). Memory is O(H W) per step, so keep scenes small (tests use images
up to 64x64 and a few hundred Gaussians).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pgs.core.cameras import Cameras
from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.projection import ALPHA_MAX, ALPHA_MIN, T_MIN, Projection, eq4_mask, project


@dataclass
class DenseRender:
    """Reference output (float64 images, int64 counts) plus the projection it was made from.

    Attributes:
        color: [C, H, W, 3] premultiplied colour.
        alpha: [C, H, W, 1] 1 - final transmittance.
        depth: [C, H, W, 1] alpha-weighted depth.
        pixel_counts: [C, N] pixels per Gaussian by `rule` (Eq. 5), Eq. 4 mask applied.
        raw_counts: [C, N] the same before the Eq. 4 mask.
        projection: the projection (of the backend under test's `project`).
        rule: the Eq. 5 rule of the counts, ``"paper"`` or ``"pixel-gs"``.
    """

    color: Tensor
    alpha: Tensor
    depth: Tensor
    pixel_counts: Tensor
    raw_counts: Tensor
    projection: Projection
    rule: str = "paper"


@torch.no_grad()
def dense_composite(
    proj: Projection, width: int, height: int, rule: str = "pixel-gs"
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Composite a projection densely in float64.

    Args:
        proj: projected Gaussians (any float dtype; cast to float64 here).
        width: image width W.
        height: image height H.
        rule: Eq. 5 counting rule, ``"paper"`` (T before the Gaussian >= 1e-4) or
            ``"pixel-gs"`` (T after it >= 1e-4).

    Returns:
        (color [C, H, W, 3], alpha [C, H, W, 1], depth [C, H, W, 1], counts [C, N] int64).

    Raises:
        ValueError: an unknown `rule`.
    """
    if rule not in ("paper", "pixel-gs"):
        raise ValueError(f"dense_composite: rule must be 'paper' or 'pixel-gs', got {rule!r}")
    f64 = torch.float64
    C, N = proj.num_cameras, proj.num_gaussians
    device = proj.means2d.device
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=f64, device=device) + 0.5,
        torch.arange(width, dtype=f64, device=device) + 0.5,
        indexing="ij",
    )
    px, py = xs.flatten(), ys.flatten()
    colors = torch.zeros(C, height * width, 3, dtype=f64, device=device)
    depths_img = torch.zeros(C, height * width, dtype=f64, device=device)
    alphas = torch.zeros(C, height * width, dtype=f64, device=device)
    counts = torch.zeros(C, N, dtype=torch.int64, device=device)
    for c in range(C):
        m2 = proj.means2d[c].detach().to(f64)
        con = proj.conics[c].detach().to(f64)
        col = proj.colors[c].detach().to(f64)
        opa = proj.opacities[c].detach().to(f64)
        z = proj.depths[c].detach().to(f64)
        visible = torch.nonzero(proj.radii[c] > 0).flatten()
        order = visible[torch.argsort(proj.depths[c].detach()[visible], stable=True)]
        trans = torch.ones(height * width, dtype=f64, device=device)
        unstopped = torch.ones(height * width, dtype=f64, device=device)
        done = torch.zeros(height * width, dtype=torch.bool, device=device)
        for i in order.tolist():
            dx, dy = m2[i, 0] - px, m2[i, 1] - py
            sigma = 0.5 * (con[i, 0] * dx * dx + con[i, 2] * dy * dy) + con[i, 1] * dx * dy
            alpha = torch.clamp_max(opa[i] * torch.exp(-sigma), ALPHA_MAX)
            passes = (sigma >= 0) & (alpha >= ALPHA_MIN)
            # Eq. 5 from its definition: T before (paper) or after (pixel-gs) this Gaussian
            t_rule = unstopped if rule == "paper" else unstopped * (1.0 - alpha)
            counts[c, i] = int((passes & (t_rule >= T_MIN)).sum())
            unstopped = torch.where(passes, unstopped * (1.0 - alpha), unstopped)
            ok = ~done & passes
            t_next = trans * (1.0 - alpha)
            finish = ok & (t_next < T_MIN)
            use = ok & ~finish
            w = torch.where(use, alpha * trans, torch.zeros_like(alpha))
            colors[c] += w[:, None] * col[i]
            depths_img[c] += w * z[i]
            trans = torch.where(use, t_next, trans)
            done |= finish
        alphas[c] = 1.0 - trans
    shape = (C, height, width)
    return colors.view(*shape, 3), alphas.view(*shape, 1), depths_img.view(*shape, 1), counts


def dense_render(
    gaussians: GaussianParams,
    cameras: Cameras,
    sh_degree: int | None = None,
    eps2d: float = 0.3,
    z_min: float = 0.2,
    rule: str = "paper",
) -> DenseRender:
    """Project with `pgs.core.rendering.projection.project`, then composite densely in float64.

    Args:
        gaussians: N Gaussians.
        cameras: C cameras.
        sh_degree: SH degree (None = all stored).
        eps2d: low-pass filter in pixels^2.
        z_min: Eq. 4 minimum camera depth for pixel counts.
        rule: Eq. 5 counting rule (``"paper"``, the `RasterizerConfig` default, or ``"pixel-gs"``).

    Returns:
        The `DenseRender`.
    """
    with torch.no_grad():
        proj = project(gaussians, cameras, sh_degree, eps2d)
    color, alpha, depth, counts = dense_composite(proj, cameras.width, cameras.height, rule)
    masked = torch.where(eq4_mask(proj, z_min), counts, torch.zeros_like(counts))
    return DenseRender(color, alpha, depth, masked, counts, proj, rule)


__all__ = ["DenseRender", "dense_composite", "dense_render"]
