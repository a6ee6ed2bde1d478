from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pgs.core.cameras import Cameras, intrinsics
from pgs.core.gaussians import GaussianParams


def make_scene(
    seed: int,
    n: int = 40,
    cameras: int = 1,
    width: int = 40,
    height: int = 32,
    sh_degree: int = 1,
    behind: int = 0,
    offscreen: int = 0,
    huge: int = 0,
    tiny: int = 0,
    faint: int = 0,
    dtype: torch.dtype = torch.float32,
) -> tuple[GaussianParams, Cameras]:
    """Gaussians around z = 3 in front of `cameras` pinhole cameras, with special cases mixed in."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n, 3)) * [0.7, 0.6, 0.5] + [0.0, 0.0, 3.0]
    log_scales = rng.normal(size=(n, 3)) * 0.4 - 2.4
    logits = rng.normal(size=n) * 1.5
    i = 0
    for _ in range(behind):
        means[i % n] = [rng.normal(), rng.normal(), -rng.uniform(0.0, 3.0)]
        i += 1
    for _ in range(offscreen):
        means[i % n] = [rng.choice([-1, 1]) * rng.uniform(3.0, 8.0), rng.normal(), 3.0]
        i += 1
    for _ in range(huge):
        log_scales[i % n] = rng.uniform(0.0, 1.0, size=3)
        i += 1
    for _ in range(tiny):
        log_scales[i % n] = rng.uniform(-9.0, -7.0, size=3)
        i += 1
    for _ in range(faint):
        logits[i % n] = rng.uniform(-7.0, -4.5)  # opacity 0.001 .. 0.011, around the 1/255 cut-off
        i += 1
    k = (sh_degree + 1) ** 2
    sh = rng.normal(size=(n, k, 3)) * 0.4
    t = lambda a: torch.tensor(np.asarray(a), dtype=dtype)  # noqa: E731
    g = GaussianParams(t(means), t(rng.normal(size=(n, 4))), t(log_scales), t(logits), t(sh))
    viewmats, ks = [], []
    for c in range(cameras):
        yaw = math.radians(8.0 * c)
        vm = torch.eye(4, dtype=torch.float64)
        vm[0, 0], vm[0, 2], vm[2, 0], vm[2, 2] = math.cos(yaw), math.sin(yaw), -math.sin(yaw), math.cos(yaw)
        vm[0, 3] = 0.1 * c
        viewmats.append(vm)
        f = 0.9 * width * (1 + 0.1 * c)
        ks.append(intrinsics(f, f * 1.05, width / 2 + c, height / 2 - c, dtype=torch.float64))
    cams = Cameras(torch.stack(viewmats).to(dtype), torch.stack(ks).to(dtype), width, height)
    return g, cams


@pytest.fixture
def scene_factory():
    return make_scene
