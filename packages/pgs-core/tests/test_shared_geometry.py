"""Shared geometry helpers: point projection (OpenCV and OpenGL) and the degree-0 SH colour."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.cameras import Cameras, intrinsics, project_opengl, project_points
from pgs.core.rendering.sh import SH_C0, rgb_to_sh0, sh0_to_rgb, sh_to_color


def _random_cameras(seed: int, count: int) -> Cameras:
    g = torch.Generator().manual_seed(seed)
    views = []
    for _ in range(count):
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
        view = torch.eye(4, dtype=torch.float64)
        view[:3, :3] = q * torch.sign(torch.det(q))
        view[:3, 3] = torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64) + 0.1 * torch.randn(3, generator=g)
        views.append(view)
    ks = torch.stack([intrinsics(300.0 + 10 * i, 280.0, 64.0 + i, 60.0, torch.float64) for i in range(count)])
    return Cameras(torch.stack(views).float(), ks.float(), 128, 120)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 20))
def test_project_points_matches_homogeneous_reference(seed: int, n: int) -> None:
    cams = _random_cameras(seed, 3)
    points = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    uv, depth = project_points(points, cams)
    assert uv.shape == (3, n, 2) and depth.shape == (3, n) and uv.dtype == torch.float64
    for c in range(3):  # independent reference: K [R | t] x in homogeneous float64 coordinates
        p = cams.Ks[c].double() @ cams.viewmats[c, :3].double() @ torch.cat([points, torch.ones(n, 1)], 1).T
        np.testing.assert_allclose(uv[c].numpy(), (p[:2] / p[2]).T.numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(depth[c].numpy(), p[2].numpy(), rtol=1e-12, atol=1e-12)


def test_project_opengl_is_the_opencv_projection_with_y_and_z_flipped() -> None:
    rng = np.random.default_rng(0)
    cam_gl = rng.normal(size=(10, 3)) + np.array([0.0, 0.0, -3.0])  # in front: z < 0
    cam_cv = cam_gl * np.array([1.0, -1.0, -1.0])
    ks = intrinsics(500.0, 500.0, 64.0, 48.0, torch.float64)[None]
    cams = Cameras(torch.eye(4, dtype=torch.float64)[None], ks, 128, 96)
    uv_cv, _ = project_points(torch.from_numpy(cam_cv), cams)
    np.testing.assert_allclose(project_opengl(cam_gl, 500.0, 64.0, 48.0), uv_cv[0].numpy(), atol=1e-9)


def test_degree0_colour_round_trip_and_matches_sh_to_color() -> None:
    colours = torch.rand(50, 3)
    sh0 = rgb_to_sh0(colours)
    torch.testing.assert_close(sh0_to_rgb(sh0), colours)
    assert SH_C0 == 1 / (2 * np.sqrt(np.pi))
    dirs = torch.randn(50, 3)
    torch.testing.assert_close(sh0_to_rgb(sh0), sh_to_color(0, sh0[:, None, :], dirs))
