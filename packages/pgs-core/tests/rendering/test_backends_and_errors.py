"""Registry, contract check, backend selection, camera conversion and clear input errors."""

from __future__ import annotations

import math

import pytest
import torch

from pgs.core.cameras import Cameras, cameras_from_transforms, intrinsics, opengl_c2w_to_viewmat
from pgs.core.errors import BackendUnavailableError, RenderError
from pgs.core.gaussians import GaussianParams
from pgs.core.registry import registry
from pgs.core.rendering import get_rasterizer, resolve_backend_name
from pgs.core.rendering.torch_backend import SPEC, TorchRasterizer
from pgs.core.testing import check_rasterizer

from .conftest import make_scene


def test_entry_points_and_contract():
    names = registry("pgs.rasterizers").names()
    assert {"torch", "gsplat"} <= set(names)
    assert registry("pgs.rasterizers").get("torch") is SPEC
    check_rasterizer(SPEC)


def test_get_rasterizer_resolves_auto_on_cpu():
    assert resolve_backend_name("torch") == "torch"
    auto = resolve_backend_name("auto", "cpu")
    assert auto in {"cpu", "torch"}
    r = get_rasterizer("torch", "cpu", tile_size=8)
    assert isinstance(r, TorchRasterizer) and r.config.tile_size == 8


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_gsplat_without_cuda_names_the_torch_backend():
    g, cams = make_scene(0, n=5)
    with pytest.raises(BackendUnavailableError, match="'torch'"):
        get_rasterizer("gsplat").render(g, cams)


def _rotation(yaw: float, pitch: float) -> torch.Tensor:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    ry = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=torch.float64)
    rx = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=torch.float64)
    return ry @ rx


def test_opengl_c2w_conversion():
    # An OpenGL camera at position t looking along its -z axis, y up.
    rot, t = _rotation(0.4, -0.2), torch.tensor([0.3, -0.1, 2.0], dtype=torch.float64)
    c2w = torch.eye(4, dtype=torch.float64)
    c2w[:3, :3], c2w[:3, 3] = rot, t
    viewmat = opengl_c2w_to_viewmat(c2w)
    # Independent derivation: OpenGL camera coordinates q = R^T (p - t); OpenCV = (q.x, -q.y, -q.z).
    p = torch.tensor([[0.5, 0.2, -1.0], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]], dtype=torch.float64)
    q = (p - t) @ rot
    expected = q * torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)
    got = p @ viewmat[:3, :3].T + viewmat[:3, 3]
    torch.testing.assert_close(got, expected)
    # A point straight ahead (along OpenGL -z) projects to the principal point at depth 1.5.
    ahead = t - 1.5 * rot[:, 2]
    cams = cameras_from_transforms(c2w[None], focal=1200.0, cx=250.0, cy=260.0, width=512, height=512)
    cam_pt = cams.viewmats[0, :3, :3].double() @ ahead + cams.viewmats[0, :3, 3].double()
    torch.testing.assert_close(cam_pt, torch.tensor([0.0, 0.0, 1.5], dtype=torch.float64), atol=1e-6, rtol=0)
    # OpenGL "up" (+y) maps to the image's upper half (smaller pixel row).
    up = ahead + 0.1 * rot[:, 1]
    cu = cams.viewmats[0, :3, :3].double() @ up + cams.viewmats[0, :3, 3].double()
    assert 1200.0 * cu[1] / cu[2] + 260.0 < 260.0
    torch.testing.assert_close(cams.camera_centers()[0].double(), t, atol=1e-6, rtol=0)


def test_bad_inputs_raise_clear_errors():
    g, cams = make_scene(0, n=8)
    r = TorchRasterizer()
    with pytest.raises(RenderError, match="means"):
        GaussianParams(torch.zeros(8, 2), g.quats, g.log_scales, g.opacity_logits, g.sh)
    with pytest.raises(RenderError, match="sh"):
        GaussianParams(g.means, g.quats, g.log_scales, g.opacity_logits, torch.zeros(8, 5, 3))
    bad = GaussianParams(**{k: v.clone() for k, v in g.as_dict().items()})
    bad.log_scales[3, 1] = float("nan")
    with pytest.raises(RenderError, match=r"log_scales.*NaN"):
        r.render(bad, cams)
    bad_shape = GaussianParams(**{k: v.clone() for k, v in g.as_dict().items()})
    bad_shape.quats = torch.zeros(8, 3)  # mutated after construction
    with pytest.raises(RenderError, match="quats"):
        r.render(bad_shape, cams)
    with pytest.raises(RenderError, match="focal"):
        Cameras(torch.eye(4), intrinsics(-5.0, 5.0, 4.0, 4.0), 8, 8)
    with pytest.raises(RenderError, match="image size"):
        Cameras(torch.eye(4), intrinsics(5.0, 5.0, 4.0, 4.0), 0, 8)
    mutated = Cameras(cams.viewmats, cams.Ks.clone(), cams.width, cams.height)
    mutated.Ks[0, 0, 0] = 0.0
    with pytest.raises(RenderError, match="focal"):
        r.render(g, mutated)
    with pytest.raises(RenderError, match="sh_degree"):
        r.render(g, cams, sh_degree=3)
    with pytest.raises(RenderError, match="expected GaussianParams"):
        r.render(g.as_dict(), cams)  # type: ignore[arg-type]
    with pytest.raises(RenderError, match="focal_len"):
        cameras_from_transforms(torch.eye(4)[None], 0.0, 4, 4, 8, 8)
