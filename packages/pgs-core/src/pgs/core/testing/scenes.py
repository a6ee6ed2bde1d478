"""Synthetic and real Gaussian scenes for rasterizer tests and benchmarks (seeded).

- `head_scene`: TalkingGaussian-scale head: centres in a ball of radius 0.1 about 0.7 units in
  front of a camera with focal ~1200 px at 512x512 (scaled with the image), scales
  exp(N(log 0.003, 0.5)).
- `garden_scene`: gsplat's real ``test_garden.npz`` (../shared/data/gsplat_test_garden.npz)
  prepared as gsplat's tests do: points cropped to [-2, 2]^3, scales uniform(0, 0.02), opacities
  uniform(0, 1), random unit quaternions, colours from the points' RGB (SH degree 0).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pgs.core.cameras import Cameras, intrinsics
from pgs.core.errors import DataError
from pgs.core.gaussians import GaussianParams
from pgs.core.rendering.sh import C0


def head_scene(
    num: int, width: int = 512, height: int = 512, cameras: int = 1, sh_degree: int = 0, seed: int = 0
) -> tuple[GaussianParams, Cameras]:
    """A head-sized random scene seen from `cameras` views around the front.

    Args:
        num: number of Gaussians.
        width: image width (focal is 1200 * width / 512).
        height: image height.
        cameras: number of cameras (spread over +-10 degrees of yaw).
        sh_degree: SH degree of the colours.
        seed: random seed.

    Returns:
        (Gaussians, cameras).
    """
    gen = torch.Generator().manual_seed(seed)
    direction = torch.randn(num, 3, generator=gen)
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    radius = 0.1 * torch.rand(num, 1, generator=gen) ** (1.0 / 3.0)
    means = direction * radius
    log_scales = math.log(0.003) + 0.5 * torch.randn(num, 3, generator=gen)
    quats = torch.randn(num, 4, generator=gen)
    opacity_logits = torch.randn(num, generator=gen) + 1.0
    k = (sh_degree + 1) ** 2
    sh = 0.3 * torch.randn(num, k, 3, generator=gen)
    sh[:, 0] = (torch.rand(num, 3, generator=gen) - 0.5) / C0
    gaussians = GaussianParams(means, quats, log_scales, opacity_logits, sh)
    focal = 1200.0 * width / 512.0
    viewmats = []
    for i in range(cameras):
        yaw = math.radians(-10.0 + 20.0 * i / max(cameras - 1, 1)) if cameras > 1 else 0.0
        rot = torch.tensor(
            [[math.cos(yaw), 0.0, -math.sin(yaw)], [0.0, 1.0, 0.0], [math.sin(yaw), 0.0, math.cos(yaw)]]
        )
        vm = torch.eye(4)
        vm[:3, :3] = rot
        vm[:3, 3] = torch.tensor([0.0, 0.0, 0.7])
        viewmats.append(vm)
    K = intrinsics(focal, focal, width / 2.0, height / 2.0)
    cams = Cameras(torch.stack(viewmats), K.expand(cameras, 3, 3).clone(), width, height)
    return gaussians, cams


def garden_scene(path: str | Path, seed: int = 42) -> tuple[GaussianParams, Cameras]:
    """Gsplat's real garden test scene, prepared as gsplat's own tests do.

    Args:
        path: the ``gsplat_test_garden.npz`` file.
        seed: seed of the drawn scales, opacities and rotations.

    Returns:
        (about 112k Gaussians, 3 cameras of 648x420).

    Raises:
        DataError: the file is missing or lacks a key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: garden scene not found")
    with np.load(path) as data:
        missing = [k for k in ("means3d", "colors", "viewmats", "Ks", "width", "height") if k not in data]
        if missing:
            raise DataError(f"{path}: missing arrays {missing}")
        means = torch.from_numpy(data["means3d"]).float()
        colors = torch.from_numpy(data["colors"]).float() / 255.0
        viewmats = torch.from_numpy(data["viewmats"]).float()
        Ks = torch.from_numpy(data["Ks"]).float()
        width, height = int(data["width"]), int(data["height"])
    keep = ((means >= -2) & (means <= 2)).all(-1)
    means, colors = means[keep], colors[keep]
    n = means.shape[0]
    gen = torch.Generator().manual_seed(seed)
    scales = torch.rand(n, 3, generator=gen) * 0.02
    opacities = torch.rand(n, generator=gen)
    quats = torch.randn(n, 4, generator=gen)
    quats = quats / quats.norm(dim=-1, keepdim=True)
    eps = 1e-6
    gaussians = GaussianParams(
        means=means,
        quats=quats,
        log_scales=torch.log(scales.clamp_min(eps)),
        opacity_logits=torch.logit(opacities.clamp(eps, 1 - eps)),
        sh=((colors - 0.5) / C0)[:, None, :],
    )
    return gaussians, Cameras(viewmats, Ks, width, height)


__all__ = ["garden_scene", "head_scene"]
