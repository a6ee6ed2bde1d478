"""Data-driven initial Gaussians: random points carved by the training masks, coloured from the frames.

TalkingGaussian starts each branch from random points in ``[-0.1, 0.1]^3`` with near-grey
colour and relies on tens of thousands of GPU steps to shape them. For CPU-sized runs the
trainer can instead keep only the random points that project inside the branch's region in
every sampled training view (a visual hull; for the inside mouth, inside the head in every view
and inside the mouth in at least one view where it is open) and give each the mean colour of the
pixels it projects to. Positions are still random and uniform within that hull: the static stage
does the rest. ``init: random`` restores TalkingGaussian's initialisation exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from pgs.core.cameras import Cameras, project_points
from pgs.core.data.dataset import SpeakerDataset
from pgs.core.gaussians import GaussianParams
from pgs.core.model.init import knn_mean_sq_dist, random_gaussians
from pgs.core.rendering.sh import rgb_to_sh0


def _lookup(image: Tensor, uv: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest-pixel values of an [H, W, ...] image at [N, 2] pixel coordinates, and a validity mask."""
    h, w = image.shape[:2]
    col = torch.floor(uv[:, 0]).long()
    row = torch.floor(uv[:, 1]).long()
    valid = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    values = image[row.clamp(0, h - 1), col.clamp(0, w - 1)]
    return values, valid


@dataclass(frozen=True)
class SamplingBox:
    """An oriented box to draw initial candidates from.

    Attributes:
        centre: [3] world centre.
        axes: [3, 3] orthonormal world axes as rows.
        low: [3] lower bounds along each axis (relative to the centre).
        high: [3] upper bounds along each axis.
    """

    centre: Tensor
    axes: Tensor
    low: Tensor
    high: Tensor

    def sample(self, count: int, generator: torch.Generator) -> Tensor:
        """[count, 3] uniform points in the box."""
        u = torch.rand(count, 3, generator=generator, dtype=torch.float64)
        local = self.low + u * (self.high - self.low)
        return (self.centre + local @ self.axes).float()


def camera_rays(points_px: Tensor, cameras: Cameras) -> tuple[Tensor, Tensor]:
    """World ray origins and unit directions through pixel positions.

    Args:
        points_px: [C, P, 2] pixel coordinates (the convention of `project_points`).
        cameras: C cameras.

    Returns:
        (origins [C, 3], directions [C, P, 3]) in float64.
    """
    view = cameras.viewmats.double()
    rot, trans = view[:, :3, :3], view[:, :3, 3]
    k = cameras.Ks.double()
    pts = points_px.double()
    x = (pts[..., 0] - k[:, None, 0, 2]) / k[:, None, 0, 0]
    y = (pts[..., 1] - k[:, None, 1, 2]) / k[:, None, 1, 1]
    d_cam = torch.stack([x, y, torch.ones_like(x)], -1)
    dirs = torch.einsum("cji,cpj->cpi", rot, d_cam)
    origins = -torch.einsum("cji,cj->ci", rot, trans)
    return origins, dirs / dirs.norm(dim=-1, keepdim=True)


def triangulate(points_px: Tensor, cameras: Cameras) -> Tensor:
    """Least-squares intersection of the rays through one point seen in C views.

    Minimises ``sum_k ||(I - d_k d_k^T)(X - o_k)||^2`` (closed form).

    Args:
        points_px: [C, P, 2] pixel positions of P points in each of the C cameras.
        cameras: C cameras.

    Returns:
        [P, 3] float64 world points.
    """
    origins, dirs = camera_rays(points_px, cameras)
    eye = torch.eye(3, dtype=torch.float64)
    proj = eye - dirs[..., :, None] * dirs[..., None, :]  # [C, P, 3, 3]
    a = proj.sum(0)
    b = torch.einsum("cpij,cj->pi", proj, origins)
    return torch.linalg.solve(a, b[..., None])[..., 0]


def mouth_box(dataset: SpeakerDataset) -> SamplingBox | None:
    """Where the inside of the mouth can be: a box behind the lips, from triangulated landmarks.

    The inner-lip centre (mean of the 68-point landmarks 60-67) and the mouth corners (48, 54)
    are triangulated over every training view. The box spans 1.2 mouth widths across, 0.9 widths
    vertically and from 0.1 widths in front of the lips to 0.6 widths behind them (into the head,
    along the mean viewing direction). Without ``landmarks.npy`` there is no box (None).

    Args:
        dataset: training frames with landmarks.

    Returns:
        The box, or None without landmarks.
    """
    landmarks = dataset.landmarks
    if landmarks is None or len(dataset) < 2:
        return None
    points = torch.stack([landmarks[:, 60:68].mean(1), landmarks[:, 48], landmarks[:, 54]], 1)
    centre, left, right = triangulate(points, dataset.cameras)
    width = float((right - left).norm())
    origins, _ = camera_rays(points[:, :1], dataset.cameras)
    view_dir = centre - origins.mean(0)
    z = view_dir / view_dir.norm()
    x = right - left
    x = x - (x @ z) * z
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    if not (width > 0 and torch.isfinite(centre).all()):
        return None
    low = torch.tensor([-0.6, -0.45, -0.1], dtype=torch.float64) * width
    high = torch.tensor([0.6, 0.45, 0.6], dtype=torch.float64) * width
    return SamplingBox(centre, torch.stack([x, y, z]), low, high)


def carved_gaussians(
    dataset: SpeakerDataset,
    region: str,
    num: int,
    extent: float,
    sh_degree: int,
    opacity: float,
    generator: torch.Generator,
    views: int = 8,
    oversample: int = 40,
    box: SamplingBox | None = None,
) -> GaussianParams:
    """Random points inside the visual hull of a region, coloured from the training frames.

    Args:
        dataset: training frames (masks, images, cameras).
        region: ``"head"`` (face + hair, the face branch) or ``"mouth"`` (inside mouth).
        num: number of Gaussians.
        extent: candidates are uniform in ``[-extent, extent]^3``.
        sh_degree: stored SH degree.
        opacity: initial opacity.
        generator: random generator.
        views: training frames used for carving (evenly spaced).
        oversample: candidates drawn per requested Gaussian.
        box: draw candidates in this box instead of the cube (e.g. `mouth_box`).

    Returns:
        N Gaussians; TalkingGaussian's random initialisation when no candidate survives.
    """
    if region not in ("head", "mouth"):
        raise ValueError(f"region must be 'head' or 'mouth', got {region!r}")
    n_views = min(views, len(dataset))
    indices = torch.linspace(0, len(dataset) - 1, n_views).round().long().unique().tolist()
    if box is not None:
        candidates = box.sample(num * oversample, generator)
    else:
        candidates = (torch.rand(num * oversample, 3, generator=generator) * 2.0 - 1.0) * extent
    in_all_heads = torch.ones(candidates.shape[0], dtype=torch.bool)
    in_some_mouth = torch.zeros(candidates.shape[0], dtype=torch.bool)
    colour_sum = torch.zeros(candidates.shape[0], 3)
    colour_count = torch.zeros(candidates.shape[0])
    for index in indices:
        masks = dataset.load_masks(index)
        image = dataset.load_image(index)
        uv, depth = project_points(candidates, dataset.cameras[index])
        head = masks.head | masks.mouth
        inside_head, valid = _lookup(head, uv[0])
        inside_head = inside_head & valid & (depth[0] > 0)
        in_all_heads &= inside_head
        region_mask = masks.mouth if region == "mouth" else masks.head
        inside_region, _ = _lookup(region_mask, uv[0])
        inside_region = inside_region & inside_head
        in_some_mouth |= inside_region
        colours, _ = _lookup(image, uv[0])
        colour_sum += torch.where(inside_region[:, None], colours, 0.0)
        colour_count += inside_region.float()
    keep = in_all_heads & (in_some_mouth if region == "mouth" else torch.ones_like(in_all_heads))
    kept = torch.nonzero(keep).flatten()
    if kept.numel() == 0:
        return random_gaussians(num, extent, sh_degree, opacity, generator)
    choice = (
        kept[torch.randint(kept.numel(), (num,), generator=generator)]
        if kept.numel() < num
        else kept[torch.randperm(kept.numel(), generator=generator)[:num]]
    )
    means = candidates[choice]
    if kept.numel() < num:  # repeated candidates: jitter them apart
        means = means + torch.randn(means.shape, generator=generator) * (extent * 0.01)
    colours = colour_sum[choice] / colour_count[choice].clamp_min(1)[:, None]
    d2 = knn_mean_sq_dist(means).clamp_min(1e-8)
    log_scales = (0.5 * torch.log(d2))[:, None].repeat(1, 3)
    quats = torch.zeros(num, 4)
    quats[:, 0] = 1.0
    sh = torch.zeros(num, (sh_degree + 1) ** 2, 3)
    sh[:, 0, :] = rgb_to_sh0(colours)
    logit = math.log(opacity / (1.0 - opacity))
    return GaussianParams(means, quats, log_scales, torch.full((num,), logit), sh)


__all__ = ["SamplingBox", "camera_rays", "carved_gaussians", "mouth_box", "project_points", "triangulate"]
