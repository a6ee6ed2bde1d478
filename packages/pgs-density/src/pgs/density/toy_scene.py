"""A small multi-view scene for comparing density strategies (the example, tests and benchmark).

A textured sphere of small Gaussians (the ground truth) is rendered by a rasterizer backend from
cameras on rings at several distances; a fit starts from a sparse random cloud and trains the
Gaussians with L1 loss while a density strategy grows and prunes them. Coverage of one Gaussian
changes from view to view (near cameras see it large, far ones small), which is where Eq. 2
differs from Eq. 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from pgs.core.cameras import Cameras, intrinsics, project_points
from pgs.core.gaussians import GaussianParams
from pgs.core.interfaces import DensityReport, DensityStrategy, Rasterizer
from pgs.core.losses import l1, psnr
from pgs.core.progress import Progress
from pgs.core.progress import report as report_progress
from pgs.core.rendering.sh import SH_C0, rgb_to_sh0


def look_at(
    positions: Tensor, target: Sequence[float] = (0.0, 0.0, 0.0), up: Sequence[float] = (0.0, 0.0, 1.0)
) -> Tensor:
    """OpenCV world-to-camera matrices of cameras at `positions` looking at `target`.

    Args:
        positions: [C, 3] camera centres.
        target: the point every camera looks at.
        up: world up direction (the image's y axis points away from it).

    Returns:
        [C, 4, 4] viewmats (x right, y down, z forward).
    """
    tgt = positions.new_tensor(target)
    forward = torch.nn.functional.normalize(tgt - positions, dim=-1)
    up_w = positions.new_tensor(up).expand_as(forward)
    right = torch.nn.functional.normalize(torch.cross(forward, up_w, dim=-1), dim=-1)
    down = torch.cross(forward, right, dim=-1)
    rot = torch.stack([right, down, forward], dim=1)  # rows: camera axes in world coordinates
    view = torch.eye(4, dtype=positions.dtype).repeat(positions.shape[0], 1, 1)
    view[:, :3, :3] = rot
    view[:, :3, 3] = -(rot @ positions[..., None])[..., 0]
    return view


def ring_cameras(
    distances: Sequence[float], per_ring: int, size: int, focal_scale: float = 1.4, phase: float = 0.0
) -> Cameras:
    """Cameras on rings around the origin, one ring per distance, at alternating elevations.

    Args:
        distances: camera distances from the origin.
        per_ring: cameras per distance.
        size: square image size in pixels.
        focal_scale: focal length in units of `size`.
        phase: azimuth offset in radians (held-out views use a different phase).
    """
    centres = []
    for r, dist in enumerate(distances):
        for i in range(per_ring):
            azimuth = phase + 2 * math.pi * (i + 0.5 * r) / per_ring
            elevation = (0.35 if (i + r) % 2 == 0 else -0.2) + 0.1 * math.sin(phase + i)
            centres.append(
                [dist * math.cos(elevation) * math.cos(azimuth), dist * math.cos(elevation) * math.sin(azimuth),
                 dist * math.sin(elevation)]
            )
    viewmats = look_at(torch.tensor(centres, dtype=torch.float32))
    f = focal_scale * size
    K = intrinsics(f, f, size / 2, size / 2).expand(viewmats.shape[0], 3, 3).clone()
    return Cameras(viewmats=viewmats, Ks=K, width=size, height=size)


def textured_sphere(n: int, radius: float = 0.5, seed: int = 0) -> GaussianParams:
    """Ground truth: `n` small opaque Gaussians on a sphere, coloured by a checker with fine stripes.

    The upper front cap carries high-frequency stripes (detail that needs many Gaussians); the
    rest a coarse checker.
    """
    g = torch.Generator().manual_seed(seed)
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    theta = math.pi * (1 + 5**0.5) * i  # Fibonacci sphere
    rho = torch.sqrt(1 - z * z)
    dirs = torch.stack([rho * torch.cos(theta), rho * torch.sin(theta), z], -1).float()
    lon = torch.atan2(dirs[:, 1], dirs[:, 0])
    lat = torch.asin(dirs[:, 2].clamp(-1, 1))
    checker = ((torch.floor(lon / (math.pi / 4)) + torch.floor(lat / (math.pi / 6))) % 2).float()
    base = torch.stack([0.85 - 0.6 * checker, 0.35 + 0.4 * checker, 0.25 + 0.5 * checker], -1)
    detail = (dirs[:, 2] > 0.2) & (dirs[:, 0] > -0.2)
    stripes = 0.5 + 0.5 * torch.sign(torch.sin(18 * lon + 10 * lat))
    stripe_col = torch.stack([stripes, stripes * 0.9, 1 - stripes * 0.8], -1)
    colour = torch.where(detail[:, None], stripe_col, base).clamp(0.02, 0.98)
    spacing = radius * math.sqrt(4 * math.pi / n)
    return GaussianParams(
        means=dirs * radius,
        quats=torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
        log_scales=torch.full((n, 3), math.log(0.7 * spacing)) + 0.05 * torch.randn(n, 3, generator=g),
        opacity_logits=torch.full((n,), 4.0),
        sh=rgb_to_sh0(colour)[:, None, :],
    )


@dataclass
class ToyScene:
    """Cameras and ground-truth images of the toy scene.

    Attributes:
        train: training cameras (C_train).
        test: held-out cameras (C_test), at other azimuths.
        train_images: [C_train, S, S, 3] ground truth over `background`.
        test_images: [C_test, S, S, 3] ground truth over `background`.
        background: [3] background colour.
        extent: scene extent for the strategies' 3D thresholds (the object's diameter).
        ground_truth: the Gaussians that rendered the images.
    """

    train: Cameras
    test: Cameras
    train_images: Tensor
    test_images: Tensor
    background: Tensor
    extent: float
    ground_truth: GaussianParams


def make_scene(
    rasterizer: Rasterizer,
    size: int = 32,
    num_gt: int = 2000,
    distances: Sequence[float] = (1.5, 2.4, 4.0),
    per_ring: int = 4,
    test_per_ring: int = 2,
    seed: int = 0,
) -> ToyScene:
    """Render the ground truth from training and held-out cameras.

    Args:
        rasterizer: backend used for the ground truth (and later the fit).
        size: square image size.
        num_gt: ground-truth Gaussians.
        distances: camera ring distances (near cameras see each Gaussian larger).
        per_ring: training cameras per distance.
        test_per_ring: held-out cameras per distance.
        seed: seed of the ground truth.
    """
    gt = textured_sphere(num_gt, seed=seed)
    train = ring_cameras(distances, per_ring, size)
    test = ring_cameras(distances, test_per_ring, size, phase=0.9)
    background = torch.tensor([1.0, 1.0, 1.0])
    with torch.no_grad():
        train_images = rasterizer.render(gt, train).over(background).clamp(0, 1)
        test_images = rasterizer.render(gt, test).over(background).clamp(0, 1)
    return ToyScene(train, test, train_images, test_images, background, 1.0, gt)


def sparse_start(n: int, half_width: float = 0.6, seed: int = 0) -> dict[str, Tensor]:
    """A sparse random cloud in a cube (TalkingGaussian-style random init): the fit's start.

    Returns:
        Tensors by `PARAM_NAMES` with `n` rows (grey colour, opacity 0.1, scale ~ the spacing).
    """
    g = torch.Generator().manual_seed(seed)
    spacing = 2 * half_width / n ** (1 / 3)
    return {
        "means": (torch.rand(n, 3, generator=g) * 2 - 1) * half_width,
        "quats": torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
        "log_scales": torch.full((n, 3), math.log(0.5 * spacing)),
        "opacity_logits": torch.full((n,), math.log(0.1 / 0.9)),
        "sh": torch.randn(n, 1, 3, generator=g) * 0.1,
    }


#: Adam learning rates per parameter (3DGS-like, scaled for a scene of extent 1 and few steps).
LEARNING_RATES: dict[str, float] = {
    "means": 2e-3,
    "quats": 5e-3,
    "log_scales": 1e-2,
    "opacity_logits": 5e-2,
    "sh": 1e-2,
}


@dataclass
class FitResult:
    """Outcome of one fit.

    Attributes:
        params: the final Gaussians (detached tensors by name).
        psnr_start: held-out PSNR of the sparse start (dB).
        psnr_end: held-out PSNR after the fit (dB).
        counts: Gaussian count after every step.
        reports: the refine steps' reports.
        seconds: wall time of the fit.
        strategy_seconds: time spent inside the strategy's two calls.
    """

    params: dict[str, Tensor]
    psnr_start: float
    psnr_end: float
    counts: list[int] = field(default_factory=list)
    reports: list[DensityReport] = field(default_factory=list)
    seconds: float = 0.0
    strategy_seconds: float = 0.0

    @property
    def num(self) -> int:
        """Final Gaussian count."""
        return int(self.params["means"].shape[0])


def evaluate(rasterizer: Rasterizer, params: dict[str, Tensor], scene: ToyScene) -> float:
    """Held-out PSNR (dB) of `params` over the test cameras."""
    with torch.no_grad():
        g = GaussianParams.from_dict({k: v.detach() for k, v in params.items()})
        images = rasterizer.render(g, scene.test).over(scene.background).clamp(0, 1)
    return psnr(images, scene.test_images)


def fit(
    scene: ToyScene,
    rasterizer: Rasterizer,
    strategy: DensityStrategy,
    start: dict[str, Tensor],
    steps: int,
    views_per_step: int = 2,
    seed: int = 0,
    progress: Progress | None = None,
) -> FitResult:
    """Fit Gaussians to the training views with L1 loss while `strategy` controls their density.

    Args:
        scene: the toy scene.
        rasterizer: backend to render with.
        strategy: the density strategy under test.
        start: initial tensors by name (copied).
        steps: optimisation steps (step numbers 1..steps are passed to the strategy).
        views_per_step: training views rendered per step (the loss averages them).
        seed: seed of the view order.
        progress: `pgs.core.progress.Progress`, called after each step as
            ``progress("fit, <count> Gaussians", step, steps)``.
    """
    params = {k: nn.Parameter(v.detach().clone()) for k, v in start.items()}
    optimizers = {k: torch.optim.Adam([p], lr=LEARNING_RATES.get(k, 1e-3), eps=1e-15) for k, p in params.items()}
    state = strategy.initial_state(params, scene.extent)
    psnr_start = evaluate(rasterizer, params, scene)
    g = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    result = FitResult(params={}, psnr_start=psnr_start, psnr_end=float("nan"))
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        if order.numel() < views_per_step:
            order = torch.cat([order, torch.randperm(scene.train.num, generator=g)])
        idx, order = order[:views_per_step], order[views_per_step:]
        render = rasterizer.render(GaussianParams.from_dict(dict(params)), scene.train[idx])
        loss = l1(render.over(scene.background), scene.train_images[idx])
        ts = time.perf_counter()
        strategy.step_pre_backward(params, optimizers, state, step, render)
        result.strategy_seconds += time.perf_counter() - ts
        loss.backward()
        ts = time.perf_counter()
        report = strategy.step_post_backward(params, optimizers, state, step, render)
        result.strategy_seconds += time.perf_counter() - ts
        if report.refined:
            result.reports.append(report)
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        result.counts.append(int(params["means"].shape[0]))
        report_progress(progress, f"fit, {result.counts[-1]} Gaussians", step, steps)
    result.seconds = time.perf_counter() - t0
    result.params = {k: v.detach().clone() for k, v in params.items()}
    result.psnr_end = evaluate(rasterizer, params, scene)
    return result


def local_density(means: Tensor, k: int = 8) -> Tensor:
    """[N] local 3D density: k / volume of the ball reaching the k-th nearest neighbour."""
    n = means.shape[0]
    if n <= 1:
        return torch.ones(n)
    k = min(k, n - 1)
    dist = torch.cdist(means.double(), means.double())
    kth = dist.topk(k + 1, largest=False).values[:, -1].clamp_min(1e-9)
    return (k / (4.0 / 3.0 * math.pi * kth**3)).float()


def project(means: Tensor, cameras: Cameras, index: int = 0) -> tuple[Tensor, Tensor]:
    """Pixel coordinates [N, 2] and camera depths [N] of `means` in camera `index`."""
    uv, z = project_points(means, cameras[index : index + 1])
    return uv[0], z[0]


__all__ = [
    "LEARNING_RATES",
    "SH_C0",
    "FitResult",
    "ToyScene",
    "evaluate",
    "fit",
    "local_density",
    "look_at",
    "make_scene",
    "project",
    "ring_cameras",
    "sparse_start",
    "textured_sphere",
]
