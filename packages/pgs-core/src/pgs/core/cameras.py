"""Pinhole cameras in the OpenCV convention and the conversion from ER-NeRF/TalkingGaussian poses.

Convention (DESIGN.md section 4): x right, y down, z forward; ``viewmat [4,4]`` maps world to
camera coordinates; ``K [3,3]`` holds the focal lengths and principal point in pixels, with pixel
centres at integer + 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from pgs.core.errors import RenderError


@dataclass
class Cameras:
    """C pinhole cameras sharing one image size.

    Attributes:
        viewmats: [C, 4, 4] world-to-camera matrices (OpenCV convention).
        Ks: [C, 3, 3] intrinsics.
        width: image width in pixels.
        height: image height in pixels.
        near: Gaussians with camera depth <= near are culled.
        far: Gaussians with camera depth >= far are culled.
    """

    viewmats: Tensor
    Ks: Tensor
    width: int
    height: int
    near: float = 0.01
    far: float = 1e10

    def __post_init__(self) -> None:
        if self.viewmats.dim() == 2:
            self.viewmats = self.viewmats[None]
        if self.Ks.dim() == 2:
            self.Ks = self.Ks[None]
        self.validate()

    def validate(self) -> None:
        """Check shapes, sizes and intrinsics.

        Raises:
            RenderError: naming the field and the problem.
        """
        c = self.viewmats.shape[0]
        if tuple(self.viewmats.shape) != (c, 4, 4) or c == 0:
            raise RenderError(
                f"Cameras.viewmats: expected shape [C, 4, 4] with C >= 1, got {list(self.viewmats.shape)}"
            )
        if tuple(self.Ks.shape) != (c, 3, 3):
            raise RenderError(f"Cameras.Ks: expected shape [{c}, 3, 3], got {list(self.Ks.shape)}")
        if self.viewmats.device != self.Ks.device:
            raise RenderError("Cameras: viewmats and Ks are on different devices")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise RenderError(f"Cameras: image size must be positive, got {self.width}x{self.height}")
        if not (0 < self.near < self.far):
            raise RenderError(f"Cameras: need 0 < near < far, got near={self.near}, far={self.far}")
        if not (bool(torch.isfinite(self.viewmats).all()) and bool(torch.isfinite(self.Ks).all())):
            raise RenderError("Cameras: viewmats or Ks contain NaN or infinite values")
        focal = torch.stack([self.Ks[:, 0, 0], self.Ks[:, 1, 1]], -1)
        if bool((focal <= 0).any()):
            raise RenderError(f"Cameras.Ks: focal lengths must be positive, got {focal.tolist()}")

    @property
    def num(self) -> int:
        """Number of cameras C."""
        return int(self.viewmats.shape[0])

    @property
    def device(self) -> torch.device:
        """Device of the matrices."""
        return self.viewmats.device

    def __getitem__(self, index: int | slice | Tensor) -> Cameras:
        view = self.viewmats[index]
        ks = self.Ks[index]
        return replace(self, viewmats=view, Ks=ks)

    def to(self, device: torch.device | str) -> Cameras:
        """A copy on `device`."""
        return replace(self, viewmats=self.viewmats.to(device), Ks=self.Ks.to(device))

    def camera_centers(self) -> Tensor:
        """[C, 3] camera centres in world coordinates."""
        rot = self.viewmats[:, :3, :3]
        trans = self.viewmats[:, :3, 3]
        return -(rot.transpose(1, 2) @ trans[..., None])[..., 0]


def project_points(points: Tensor, cameras: Cameras) -> tuple[Tensor, Tensor]:
    """Pixel coordinates and depths of world points in each camera (OpenCV pinhole, no skew).

    ``x_cam = R x + t``, ``u = fx X/Z + cx``, ``v = fy Y/Z + cy``; computed in `points`' dtype
    and on its device (the camera matrices are cast), so float64 points give a float64 result.

    Args:
        points: [N, 3] world points.
        cameras: C cameras.

    Returns:
        (uv [C, N, 2] in pixels with pixel centres at integer + 0.5, depth [C, N]: camera z; points
        at or behind a camera get their depth clamped to 1e-9 in the division).
    """
    view = cameras.viewmats.to(device=points.device, dtype=points.dtype)
    k = cameras.Ks.to(device=points.device, dtype=points.dtype)
    cam = torch.einsum("cij,nj->cni", view[:, :3, :3], points) + view[:, None, :3, 3]
    z = cam[..., 2]
    zc = z.clamp_min(1e-9)
    u = k[:, None, 0, 0] * cam[..., 0] / zc + k[:, None, 0, 2]
    v = k[:, None, 1, 1] * cam[..., 1] / zc + k[:, None, 1, 2]
    return torch.stack([u, v], -1), z


def project_opengl(points: np.ndarray, focal: float, cx: float, cy: float) -> np.ndarray:
    """Pixels of OpenGL camera-frame points (x right, y up, z < 0 in front; the face tracker's).

    ``u = cx + f X / (-Z)``, ``v = cy - f Y / (-Z)``.

    Args:
        points: [..., 3] camera-frame points.
        focal: focal length in pixels.
        cx: principal point x in pixels.
        cy: principal point y in pixels.

    Returns:
        [..., 2] pixel coordinates.
    """
    depth = -points[..., 2]
    return np.stack([cx + focal * points[..., 0] / depth, cy - focal * points[..., 1] / depth], -1)


def intrinsics(fx: float, fy: float, cx: float, cy: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """[3, 3] pinhole intrinsics matrix."""
    return torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=dtype)


def opengl_c2w_to_viewmat(c2w: Tensor) -> Tensor:
    """Convert OpenGL camera-to-world poses to OpenCV world-to-camera matrices.

    ER-NeRF / TalkingGaussian store ``transform_matrix`` as an OpenGL camera-to-world matrix:
    flip its y and z camera axes, then invert.

    Args:
        c2w: [..., 4, 4] (or [..., 3, 4]) OpenGL camera-to-world matrices (x right, y up, -z forward).

    Returns:
        [..., 4, 4] OpenCV world-to-camera matrices.
    """
    if c2w.shape[-1] != 4 or c2w.shape[-2] not in (3, 4):
        raise RenderError(f"transform_matrix: expected [..., 4, 4] or [..., 3, 4], got {list(c2w.shape)}")
    full = torch.zeros(*c2w.shape[:-2], 4, 4, dtype=c2w.dtype, device=c2w.device)
    full[..., :3, :] = c2w[..., :3, :]
    full[..., 3, 3] = 1.0
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=c2w.dtype, device=c2w.device))
    return torch.linalg.inv(full @ flip)


def cameras_from_transforms(
    c2w: Tensor, focal: float, cx: float, cy: float, width: int, height: int,
    near: float = 0.01, far: float = 100.0,
) -> Cameras:
    """Cameras from ER-NeRF/TalkingGaussian ``transforms_*.json`` data.

    Args:
        c2w: [C, 4, 4] OpenGL camera-to-world ``transform_matrix`` values.
        focal: ``focal_len`` in pixels (the same for x and y).
        cx: principal point x in pixels (``cx`` of the file).
        cy: principal point y in pixels (``cy`` of the file).
        width: image width in pixels.
        height: image height in pixels.
        near: near clipping depth (TalkingGaussian: 0.01).
        far: far clipping depth (TalkingGaussian: 100).
    """
    if not focal > 0:
        raise RenderError(f"focal_len must be positive, got {focal}")
    viewmats = opengl_c2w_to_viewmat(c2w.to(torch.float64)).to(torch.float32)
    k = intrinsics(focal, focal, cx, cy).to(c2w.device)
    return Cameras(viewmats, k.expand(viewmats.shape[0], 3, 3).clone(), int(width), int(height), near, far)
